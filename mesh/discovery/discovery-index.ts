import { compareMatches, matchCandidate, type Candidate, type CompiledScope, type Match } from './scope-match.js';

/** One indexed entry: what discovery matches on, plus whatever the owner keeps with it. */
export interface Indexed<T> {
  key: string;
  candidate: Candidate;
  value: T;
}

/** A ranked discovery answer. */
export interface Ranked<T> extends Indexed<T> {
  match: Match;
}

const words = (text: string) => text.toLowerCase().match(/[\p{L}\p{N}][\p{L}\p{N}-]*/gu) ?? [];

function add(map: Map<string, Set<string>>, term: string, key: string): void {
  let set = map.get(term);
  if (!set) map.set(term, (set = new Set()));
  set.add(key);
}

function remove(map: Map<string, Set<string>>, term: string, key: string): void {
  const set = map.get(term);
  set?.delete(key);
  if (set?.size === 0) map.delete(term);
}

/**
 * The discoverable entries held in memory with inverted indexes (name,
 * namespace, skill, tag, policy, text term), so a Discover call inspects
 * only the candidates its most selective criterion admits instead of every
 * card. Only discoverable entries belong here: the registry removes entries
 * that lapse, deregister, or are suspended or retired.
 */
export class DiscoveryIndex<T> {
  private readonly entries = new Map<string, Indexed<T>>();
  private readonly byName = new Map<string, Set<string>>();
  private readonly byNamespace = new Map<string, Set<string>>();
  private readonly bySkill = new Map<string, Set<string>>();
  private readonly byTag = new Map<string, Set<string>>();
  private readonly byPolicy = new Map<string, Set<string>>();
  private readonly byTerm = new Map<string, Set<string>>();

  get size(): number {
    return this.entries.size;
  }

  private terms(c: Candidate): Set<string> {
    return new Set(words(`${c.purpose} ${c.description} ${c.skills.map((s) => `${s.id} ${s.name} ${s.description} ${s.tags.join(' ')}`).join(' ')}`));
  }

  private index(e: Indexed<T>, op: typeof add): void {
    const c = e.candidate;
    op(this.byName, c.name, e.key);
    op(this.byNamespace, c.name.slice(0, c.name.indexOf('/')), e.key);
    for (const s of c.skills) op(this.bySkill, s.id, e.key);
    for (const t of new Set(c.skills.flatMap((s) => s.tags.map((x) => x.toLowerCase())))) op(this.byTag, t, e.key);
    for (const p of c.policies) op(this.byPolicy, p, e.key);
    for (const t of this.terms(c)) op(this.byTerm, t, e.key);
  }

  /** Adds or replaces an entry. */
  put(entry: Indexed<T>): void {
    this.delete(entry.key);
    this.entries.set(entry.key, entry);
    this.index(entry, add);
  }

  /** Removes an entry (no-op when absent). */
  delete(key: string): void {
    const old = this.entries.get(key);
    if (!old) return;
    this.entries.delete(key);
    this.index(old, remove);
  }

  get(key: string): Indexed<T> | undefined {
    return this.entries.get(key);
  }

  /** The smallest candidate key set the scope allows, or undefined for "all entries". */
  private candidates(s: CompiledScope): Iterable<string> | undefined {
    const sets: Set<string>[] = [];
    const union = (maps: Map<string, Set<string>>, keys: string[]) => {
      const out = new Set<string>();
      for (const k of keys) for (const key of maps.get(k) ?? []) out.add(key);
      return out;
    };
    // Visibility is a union of its parts; only usable as an index when it has no patterns.
    if ((s.names.length || s.namespaces.length) && !s.patterns.length) {
      const out = union(this.byName, s.names);
      for (const key of union(this.byNamespace, s.namespaces)) out.add(key);
      sets.push(out);
    }
    for (const id of s.skillIds) sets.push(this.bySkill.get(id) ?? new Set());
    for (const t of s.tags) sets.push(this.byTag.get(t) ?? new Set());
    for (const p of s.policies) sets.push(this.byPolicy.get(p) ?? new Set());
    if (s.terms.length) sets.push(union(this.byTerm, s.terms));
    if (!sets.length) return undefined;
    return sets.reduce((a, b) => (a.size <= b.size ? a : b));
  }

  /** Ranks the entries matching a scope, best first, at most `limit`. */
  search(scope: CompiledScope, limit: number, admit: (e: Indexed<T>) => boolean = () => true): Ranked<T>[] {
    const keys = this.candidates(scope) ?? this.entries.keys();
    const found: Ranked<T>[] = [];
    for (const key of keys) {
      const e = this.entries.get(key)!;
      const match = matchCandidate(e.candidate, scope);
      if (match && admit(e)) found.push({ ...e, match });
    }
    return found.sort(compareMatches).slice(0, limit);
  }
}
