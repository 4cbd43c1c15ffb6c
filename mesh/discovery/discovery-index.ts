import {
  compareCandidates,
  matchCandidate,
  prepared,
  scoreCandidate,
  type Candidate,
  type CompiledScope,
  type Match,
} from './scope-match.js';

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

// The inverted indexes hold the entries themselves: a search walks them without a lookup per key.
type Postings<T> = Map<string, Set<Indexed<T>>>;

function add<T>(map: Postings<T>, term: string, entry: Indexed<T>): void {
  let set = map.get(term);
  if (!set) map.set(term, (set = new Set()));
  set.add(entry);
}

function remove<T>(map: Postings<T>, term: string, entry: Indexed<T>): void {
  const set = map.get(term);
  set?.delete(entry);
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
  private readonly byName: Postings<T> = new Map();
  private readonly byNamespace: Postings<T> = new Map();
  private readonly bySkill: Postings<T> = new Map();
  private readonly byTag: Postings<T> = new Map();
  private readonly byPolicy: Postings<T> = new Map();
  private readonly byTerm: Postings<T> = new Map();
  /** Distinct names, sorted, for prefix ranges; rebuilt lazily after changes. */
  private sortedNames: string[] | undefined;

  get size(): number {
    return this.entries.size;
  }

  private index(e: Indexed<T>, op: typeof add<T>): void {
    const c = e.candidate;
    this.sortedNames = undefined;
    op(this.byName, c.name, e);
    op(this.byNamespace, c.name.slice(0, c.name.indexOf('/')), e);
    for (const s of c.skills) op(this.bySkill, s.id, e);
    for (const t of c.tagSet ?? []) op(this.byTag, t, e);
    for (const p of c.policies) op(this.byPolicy, p, e);
    for (const t of c.terms?.keys() ?? []) op(this.byTerm, t, e);
  }

  /** Adds or replaces an entry. */
  put(entry: Indexed<T>): void {
    this.delete(entry.key);
    // Tokenise, collect tags and parse the version once here, not on every query.
    const indexed = { ...entry, candidate: prepared(entry.candidate) };
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

  /** The smallest set of entries the scope allows, or undefined for "all entries". */
  private candidates(s: CompiledScope): Set<Indexed<T>> | undefined {
    const sets: Set<Indexed<T>>[] = [];
    const union = (maps: Postings<T>, keys: string[]) => {
      // One key: its own set, not a copy.
      if (keys.length === 1) return maps.get(keys[0]!) ?? new Set<Indexed<T>>();
      const out = new Set<Indexed<T>>();
      for (const k of keys) for (const e of maps.get(k) ?? []) out.add(e);
      return out;
    };
    // Visibility is a union of its parts; usable as an index when every pattern has a literal prefix.
    const hasVisibility = s.names.length || s.namespaces.length || s.patterns.length;
    if (hasVisibility && s.patterns.every((p) => p.prefix)) {
      const only = !s.patterns.length && (s.names.length === 0) !== (s.namespaces.length === 0);
      if (only) sets.push(s.names.length ? union(this.byName, s.names) : union(this.byNamespace, s.namespaces));
      else {
        const out = new Set<Indexed<T>>();
        for (const e of union(this.byName, s.names)) out.add(e);
        for (const e of union(this.byNamespace, s.namespaces)) out.add(e);
        for (const p of s.patterns)
          for (const name of this.namesWithPrefix(p.prefix)) for (const e of this.byName.get(name) ?? []) out.add(e);
        sets.push(out);
      }
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

  /** How many entries a scope's index lookup leaves to be matched one by one (all entries when no criterion narrows them). */
  candidateCount(scope: CompiledScope): number {
    return (this.candidates(scope) ?? this.entries).size;
  }

  /** Ranks the entries matching a scope, best first, at most `limit`. */
  search(scope: CompiledScope, limit: number, admit: (e: Indexed<T>) => boolean = () => true): Ranked<T>[] {
    const entries = this.candidates(scope) ?? this.entries.values();
    // Keep only the best `limit` while scanning (no sort of every match), by score alone:
    // the reasons are written for those that are kept.
    const best: { e: Indexed<T>; score: number }[] = [];
    const before = (a: { e: Indexed<T>; score: number }, b: { e: Indexed<T>; score: number }) =>
      b.score - a.score || compareCandidates(a.e.candidate, b.e.candidate);
    for (const e of entries) {
      const score = scoreCandidate(e.candidate, scope);
      if (score === undefined) continue;
      const last = best[limit - 1];
      if (
        last &&
        (score < last.score || (score === last.score && compareCandidates(e.candidate, last.e.candidate) >= 0))
      )
        continue;
      if (!admit(e)) continue;
      const ranked = { e, score };
      let i = best.length;
      while (i > 0 && before(ranked, best[i - 1]!) < 0) i--;
      best.splice(i, 0, ranked);
      if (best.length > limit) best.pop();
    }
    return best.map(({ e }) => ({ ...e, match: matchCandidate(e.candidate, scope)! }));
  }
}
