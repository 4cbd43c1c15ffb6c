import { compareMatches, matchCandidate, termWeights, type Candidate, type CompiledScope, type Match } from './scope-match.js';

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
  /** Distinct names, sorted, for prefix ranges; rebuilt lazily after changes. */
  private sortedNames: string[] | undefined;

  get size(): number {
    return this.entries.size;
  }


  private index(e: Indexed<T>, op: typeof add): void {
    const c = e.candidate;
    this.sortedNames = undefined;
    op(this.byName, c.name, e.key);
    op(this.byNamespace, c.name.slice(0, c.name.indexOf('/')), e.key);
    for (const s of c.skills) op(this.bySkill, s.id, e.key);
    for (const t of new Set(c.skills.flatMap((s) => s.tags.map((x) => x.toLowerCase())))) op(this.byTag, t, e.key);
    for (const p of c.policies) op(this.byPolicy, p, e.key);
    for (const t of c.terms?.keys() ?? []) op(this.byTerm, t, e.key);
  }

  /** Adds or replaces an entry. */
  put(entry: Indexed<T>): void {
    this.delete(entry.key);
    // Tokenise once here, not on every query.
    const indexed = { ...entry, candidate: { ...entry.candidate, terms: entry.candidate.terms ?? termWeights(entry.candidate) } };
    this.entries.set(entry.key, indexed);
    this.index(indexed, add);
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
    // Visibility is a union of its parts; usable as an index when every pattern has a literal prefix.
    const hasVisibility = s.names.length || s.namespaces.length || s.patterns.length;
    if (hasVisibility && s.patterns.every((p) => p.prefix)) {
      const out = union(this.byName, s.names);
      for (const key of union(this.byNamespace, s.namespaces)) out.add(key);
      for (const p of s.patterns) for (const name of this.namesWithPrefix(p.prefix)) for (const key of this.byName.get(name) ?? []) out.add(key);
      sets.push(out);
    }
    for (const id of s.skillIds) sets.push(this.bySkill.get(id) ?? new Set());
    for (const t of s.tags) sets.push(this.byTag.get(t) ?? new Set());
    for (const p of s.policies) sets.push(this.byPolicy.get(p) ?? new Set());
    if (s.terms.length) sets.push(union(this.byTerm, s.terms));
    if (!sets.length) return undefined;
    return sets.reduce((a, b) => (a.size <= b.size ? a : b));
  }

  private namesWithPrefix(prefix: string): string[] {
    const names = (this.sortedNames ??= [...this.byName.keys()].sort());
    let lo = 0;
    let hi = names.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (names[mid]! < prefix) lo = mid + 1;
      else hi = mid;
    }
    const out: string[] = [];
    for (let i = lo; i < names.length && names[i]!.startsWith(prefix); i++) out.push(names[i]!);
    return out;
  }

  /** Ranks the entries matching a scope, best first, at most `limit`. */
  search(scope: CompiledScope, limit: number, admit: (e: Indexed<T>) => boolean = () => true): Ranked<T>[] {
    const keys = this.candidates(scope) ?? this.entries.keys();
    // Keep only the best `limit` while scanning: no sort of every match.
    const best: Ranked<T>[] = [];
    for (const key of keys) {
      const e = this.entries.get(key)!;
      const match = matchCandidate(e.candidate, scope);
      if (!match || !admit(e)) continue;
      const ranked = { ...e, match };
      if (best.length === limit && compareMatches(ranked, best[limit - 1]!) >= 0) continue;
      let i = best.length;
      while (i > 0 && compareMatches(ranked, best[i - 1]!) < 0) i--;
      best.splice(i, 0, ranked);
      if (best.length > limit) best.pop();
    }
    return best;
  }
}
