import semver from 'semver';
import {
  compareVersions,
  matchCandidate,
  namespaceOf,
  termWeights,
  type Candidate,
  type CompiledScope,
  type Match,
} from './scope-match.js';
import type { NameMatcher } from './name-pattern.js';
import { searchPlain, searchText, type Segment, type Slots } from './index-search.js';
import { nameChars } from './name-chars.js';
import { DEFAULT_MAX_EXAMINED, SearchBudget } from './search-budget.js';
import { possiblePatterns, slotFilter } from './slot-filter.js';
import { sameCard } from './same-card.js';
import { RankNumbers } from './rank-numbers.js';
import { SortedSlots } from './sorted-slots.js';
import { nameRange, patternPrefixes, rankedRuns, withinRuns } from './visibility-runs.js';

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

// Postings hold entry slots (numbers, not objects or Sets: a million cards hold tens of millions of
// postings); a term's postings hold slot * 8 + the term's weight in that entry (at most 3 + 2 + 1).
type Postings = Map<string, number[]>;

const post = (map: Postings, term: string, value: number) => {
  const list = map.get(term);
  if (list) list.push(value);
  else map.set(term, [value]);
};

/**
 * The discoverable entries held in memory with inverted indexes (namespace,
 * skill, tag, policy, text term), a global rank order (version, then name:
 * how equal scores are ordered) and a name order (for names and pattern
 * prefixes), so a Discover call examines few entries however broad its
 * scope: see index-search.ts. Entries live in numbered slots; a removed
 * entry's slot stays (skipped) until removals outnumber entries, when the
 * slots are compacted. Only discoverable entries belong here: the registry
 * removes entries that lapse, deregister, or are suspended or retired.
 */
export class DiscoveryIndex<T> {
  private readonly slotOf = new Map<string, number>();
  private entries: Indexed<T>[] = [];
  private alive = new Uint8Array(1024);
  private live = 0;
  private readonly byNamespace: Postings = new Map();
  private readonly bySkill: Postings = new Map();
  private readonly byTag: Postings = new Map();
  private readonly byPolicy: Postings = new Map();
  private readonly byTerm: Postings = new Map();
  /** Slots by label, keyed "key\0value": a label nobody has is answered at once. */
  private readonly byLabel: Postings = new Map();
  /** Each slot's name characters (name-chars.ts): patterns a name cannot match are not run on it. */
  private chars = new Uint32Array(1024);
  /** How many entries hold each name character (by bit): a pattern needing one nobody holds matches nothing. */
  private readonly charCounts = new Int32Array(32);
  /** Parsed versions by their text: most cards share a few versions. */
  private versions = new Map<string, semver.SemVer | null>();
  private readonly isLive = (slot: number) => this.alive[slot] === 1;
  /** Each slot's version as one number when it has no pre-release part (NaN otherwise): sorting a million compares them. */
  private versionKeys: number[] = [];
  /** compareVersions of two slots' cards, by their numbers when both have one. */
  private readonly byVersion = (a: number, b: number) => {
    const x = this.versionKeys[a]!;
    const y = this.versionKeys[b]!;
    return x === x && y === y ? y - x : compareVersions(this.entries[a]!.candidate, this.entries[b]!.candidate);
  };
  /** Each slot's name: bisecting the orders compares names of entries far apart in memory, one load each here. */
  private names: string[] = [];
  private readonly byNameThenSlot = (a: number, b: number) => {
    const x = this.names[a]!;
    const y = this.names[b]!;
    return x < y ? -1 : x > y ? 1 : a - b;
  };
  /** The rank order: compareCandidates, then the earlier entry. */
  private readonly order: SortedSlots;
  /** The name order (then the earlier entry): a name, or a pattern prefix, is a range of it. */
  private readonly byName: SortedSlots;
  /** Rank numbers, and the runs of equal versions in the rank order (names ascend within one). */
  private readonly ranks = new RankNumbers((a, b) => !this.byVersion(a, b));
  private ranksStale = false;
  /** Entries whose name has no "/" (a namespace is then not a name prefix). */
  private slashless = 0;
  /** How many checks the last search made (entries checked against the scope, pattern programs run): what its cost grows with. */
  examined = 0;

  /**
   * `maxExamined`: the checks one search may make before it is refused with
   * RESOURCE_EXHAUSTED (search-budget.ts), so that no query's work grows with the index.
   * `chunkSize`: the slots a chunk of the rank and name orders holds (sorted-slots.ts; tests make it small).
   */
  constructor(private readonly options: { maxExamined?: number; chunkSize?: number } = {}) {
    const byRank = (a: number, b: number) => this.byVersion(a, b) || this.byNameThenSlot(a, b);
    this.order = new SortedSlots(byRank, this.isLive, options.chunkSize);
    this.byName = new SortedSlots(this.byNameThenSlot, this.isLive, options.chunkSize);
  }

  get size(): number {
    return this.live;
  }

  /** Adds or replaces an entry. */
  put(entry: Indexed<T>): void {
    const c = entry.candidate;
    // The registry puts an entry again whenever its leases change: an unchanged card keeps its
    // slot and place (no orders to merge on the next search), only what the owner keeps is new.
    const old = this.slotOf.get(entry.key);
    if (old !== undefined && sameCard(this.entries[old]!.candidate, c)) {
      this.entries[old] = { ...entry, candidate: this.entries[old]!.candidate };
      return;
    }
    this.delete(entry.key);
    let version = this.versions.get(c.version);
    if (version === undefined) this.versions.set(c.version, (version = semver.parse(c.version)));
    // Parse the version and take the namespace once here, not on every query.
    const candidate: Candidate = { ...c, parsedVersion: version, namespace: namespaceOf(c.name) };
    const slot = this.entries.length;
    this.entries.push({ ...entry, candidate });
    this.versionKeys.push(versionKey(version));
    this.names.push(c.name);
    if (slot >= this.alive.length) {
      const grown = new Uint8Array(this.alive.length * 2);
      grown.set(this.alive);
      this.alive = grown;
      const chars = new Uint32Array(this.alive.length);
      chars.set(this.chars);
      this.chars = chars;
    }
    this.alive[slot] = 1;
    this.chars[slot] = nameChars(c.name);
    this.countChars(slot, 1);
    this.live++;
    this.slotOf.set(entry.key, slot);
    if (!c.name.includes('/')) this.slashless++;
    post(this.byNamespace, candidate.namespace!, slot);
    for (const id of new Set(c.skills.map((k) => k.id))) post(this.bySkill, id, slot);
    for (const t of new Set(c.skills.flatMap((k) => k.tags.map((t) => t.toLowerCase())))) post(this.byTag, t, slot);
    for (const p of new Set(c.policies)) post(this.byPolicy, p, slot);
    for (const [k, v] of Object.entries(c.labels)) post(this.byLabel, labelKey(k, v), slot);
    for (const [term, weight] of termWeights(c)) post(this.byTerm, term, slot * 8 + weight);
    this.order.add(slot);
    this.byName.add(slot);
  }

  /** Removes an entry (no-op when absent). */
  delete(key: string): void {
    const slot = this.slotOf.get(key);
    if (slot === undefined) return;
    this.slotOf.delete(key);
    this.alive[slot] = 0;
    this.live--;
    this.countChars(slot, -1);
    if (!this.entries[slot]!.candidate.name.includes('/')) this.slashless--;
    this.order.removedOne();
    this.byName.removedOne();
    const removed = this.entries.length - this.live;
    if (removed > 1024 && removed > this.live) this.compact();
  }

  private countChars(slot: number, by: number): void {
    const bits = this.chars[slot]!;
    for (let bit = 0; bit < 32; bit++) if (bits & (1 << bit)) this.charCounts[bit]! += by;
  }

  get(key: string): Indexed<T> | undefined {
    const slot = this.slotOf.get(key);
    return slot === undefined ? undefined : this.entries[slot];
  }

  /** Renumbers the slots of the entries still here, dropping removed ones from every posting. */
  private compact(): void {
    const to = new Int32Array(this.entries.length).fill(-1);
    let n = 0;
    for (let s = 0; s < this.entries.length; s++) if (this.alive[s]) to[s] = n++;
    this.entries = this.entries.filter((_, s) => this.alive[s]);
    this.versionKeys = this.versionKeys.filter((_, s) => this.alive[s]);
    this.names = this.names.filter((_, s) => this.alive[s]);
    this.alive = new Uint8Array(Math.max(1024, n * 2)).fill(1, 0, n);
    const chars = new Uint32Array(this.alive.length);
    for (let s = 0, k = 0; s < to.length; s++) if (to[s]! >= 0) chars[k++] = this.chars[s]!;
    this.chars = chars;
    for (const [key, slot] of this.slotOf) this.slotOf.set(key, to[slot]!);
    for (const map of [this.byNamespace, this.bySkill, this.byTag, this.byPolicy, this.byLabel, this.byTerm]) {
      const shift = map === this.byTerm ? 8 : 1;
      for (const [k, list] of map) {
        const kept: number[] = [];
        for (const v of list) {
          const s = to[Math.floor(v / shift)]!;
          if (s >= 0) kept.push(s * shift + (v % shift));
        }
        if (kept.length) map.set(k, kept);
        else map.delete(k);
      }
    }
    this.versions = new Map(this.entries.map((e) => [e.candidate.version, e.candidate.parsedVersion!]));
    this.order.renumber(to);
    this.byName.renumber(to);
    this.ranksStale = true;
  }

  /** The index as a search of `scope` reads it, its orders brought up to date. */
  private view(needNames: boolean, scope: CompiledScope, patterns: NameMatcher[], budget: SearchBudget): Slots {
    // A few new entries are numbered where they land; many, or a compaction, renumber all.
    const inserted = (at: number[]) => this.ranksStale || this.ranks.inserted(this.order, at, this.alive.length);
    if (this.order.flush(inserted) || this.ranksStale) {
      this.ranks.renumber(this.order, this.alive.length);
      this.ranksStale = false;
    }
    if (needNames) this.byName.flush();
    return {
      count: this.entries.length,
      alive: this.alive,
      rank: this.ranks.rank,
      order: this.order,
      candidate: (slot) => this.entries[slot]!.candidate,
      matches: slotFilter(scope, patterns, budget, (slot) => this.entries[slot]!.candidate, this.chars),
      budget,
    };
  }

  /** The smallest index lookup that holds every match (undefined: none narrows them), and whether it is the visibility's. */
  private narrowest(s: CompiledScope): { segments: Segment[]; visibility: boolean } | undefined {
    const lookups: { segments: Segment[]; visibility: boolean }[] = [];
    const postings = (map: Postings, key: string) => {
      const list = map.get(key) ?? [];
      return { segments: [{ list, from: 0, to: list.length }], visibility: false };
    };
    // Visibility is a union of its parts; usable as a lookup when every pattern has a literal prefix.
    const hasVisibility = s.names.length || s.namespaces.length || s.patterns.length;
    if (hasVisibility && s.patterns.every((p) => p.prefixes.length)) {
      const names = this.byName;
      const segments = [
        ...names.pieces(s.names.map((name) => nameRange(names, 0, names.length, this.nameOf, name, false))),
        ...s.namespaces.map((ns) => postings(this.byNamespace, ns).segments[0]!),
        ...names.pieces(patternPrefixes(s).map((x) => nameRange(names, 0, names.length, this.nameOf, x, true))),
      ];
      lookups.push({ segments, visibility: true });
    }
    for (const id of s.skillIds) lookups.push(postings(this.bySkill, id));
    for (const t of s.tags) lookups.push(postings(this.byTag, t));
    for (const p of s.policies) lookups.push(postings(this.byPolicy, p));
    for (const [k, v] of s.labels) lookups.push(postings(this.byLabel, labelKey(k, v)));
    const size = (l: { segments: Segment[] }) => l.segments.reduce((n, g) => n + g.to - g.from, 0);
    return lookups.length ? lookups.reduce((a, b) => (size(a) <= size(b) ? a : b)) : undefined;
  }

  private readonly nameOf = (slot: number) => this.names[slot]!;

  /** Ranks the entries matching a scope, best first, at most `limit`. */
  search(scope: CompiledScope, limit: number, admit: (e: Indexed<T>) => boolean = () => true): Ranked<T>[] {
    if (limit < 1) return [];
    const budget = new SearchBudget(this.options.maxExamined ?? DEFAULT_MAX_EXAMINED, scope);
    // A visibility of patterns alone that need characters no name holds admits nothing: answered at once.
    const patterns = possiblePatterns(scope, this.charCounts);
    if (scope.patterns.length && !patterns.length && !scope.names.length && !scope.namespaces.length) {
      this.examined = 0;
      return [];
    }
    const view = this.view(scope.names.length > 0 || scope.patterns.length > 0, scope, patterns, budget);
    const ranked = rankedRuns(scope, this.order, this.ranks.runs, this.nameOf, this.slashless > 0);
    const lookup = this.narrowest(scope);
    const terms = scope.terms.map((t) => this.byTerm.get(t) ?? []);
    const accept = (slot: number) => admit(this.entries[slot]!);
    // The rank order's runs already hold the visibility's entries in order: no need to examine them all.
    const unordered = lookup && !(lookup.visibility && ranked) ? lookup.segments : undefined;
    const walk = ranked ?? [{ from: 0, to: this.order.length }];
    // A version range is tested once a run of equal versions: runs it rejects are not walked.
    const range = scope.range;
    const inOrder = this.order.pieces(
      range
        ? withinRuns(walk, this.ranks.runs, (at) => {
            const v = this.entries[this.order.at(at)]!.candidate.parsedVersion;
            return !!v && range.test(v);
          })
        : walk,
    );
    let slots: number[];
    try {
      slots = scope.terms.length
        ? searchText(view, scope, limit, accept, inOrder, lookup?.segments, terms)
        : searchPlain(view, limit, accept, inOrder, unordered);
    } finally {
      this.examined = budget.examined;
    }
    return slots.map((slot) => {
      const e = this.entries[slot]!;
      return { ...e, match: matchCandidate(e.candidate, scope)! };
    });
  }
}

const labelKey = (key: string, value: string) => `${key}\0${value}`;

/** A version without pre-release part as one number ordered as semver orders it (NaN: compare as semver does). */
function versionKey(v: semver.SemVer | null): number {
  const small = (n: number) => n < 2 ** 17;
  return v && !v.prerelease.length && small(v.major) && small(v.minor) && small(v.patch)
    ? v.major * 2 ** 34 + v.minor * 2 ** 17 + v.patch
    : Number.NaN;
}
