import semver from 'semver';
import { EntryKind, type DiscoveryScope } from '../../gen/agentmesh/v1/card.js';
import { Code, MeshError } from '../core/index.js';
import { compileNamePattern, type NameMatcher } from './name-pattern.js';

/** The facts about an entry that discovery matches on. */
export interface Candidate {
  kind: 'agent' | 'tool';
  name: string;
  version: string;
  purpose: string;
  description: string;
  policies: string[];
  /** Agent skills, or a tool service's tools. */
  skills: { id: string; name: string; description: string; tags: string[] }[];
  labels: Record<string, string>;
  /** The parsed version, for ranking and ranges; parsed on demand when absent. */
  parsedVersion?: semver.SemVer | null;
  /** The namespace part of the name; taken on demand when absent. */
  namespace?: string;
}

/** The namespace part of a name (what namespace scopes compare with). */
export const namespaceOf = (name: string): string => name.slice(0, name.indexOf('/'));

const tagsOf = (c: Candidate) => new Set(c.skills.flatMap((k) => k.tags.map((t) => t.toLowerCase())));

/** The text weight of every term of a candidate: what free-text relevance is computed from. */
export function termWeights(c: Candidate): Map<string, number> {
  const weights = new Map<string, number>();
  const addAll = (text: string, weight: number) => {
    for (const t of new Set(words(text))) weights.set(t, (weights.get(t) ?? 0) + weight);
  };
  addAll(c.purpose, 3);
  addAll(c.skills.map((k) => `${k.id} ${k.name} ${k.description} ${k.tags.join(' ')}`).join(' '), 2);
  addAll(c.description, 1);
  return weights;
}

/** A scope validated once per Discover call. */
export interface CompiledScope {
  namespaces: string[];
  names: string[];
  patterns: NameMatcher[];
  terms: string[];
  skillIds: string[];
  tags: string[];
  policies: string[];
  labels: [string, string][];
  versionRange: string | undefined;
  /** versionRange compiled once per call. */
  range: semver.Range | undefined;
  kinds: Set<'agent' | 'tool'>;
}

/** A match with its score (higher is better) and reasons, most important first. */
export interface Match {
  score: number;
  reasons: string[];
}

const MAX_TEXT = 512;
const MAX_TERMS = 32;
const MAX_LIST = 100;

const words = (text: string) => text.toLowerCase().match(/[\p{L}\p{N}][\p{L}\p{N}-]*/gu) ?? [];

function bounded<T>(list: T[], field: string): T[] {
  if (list.length > MAX_LIST) throw new MeshError(Code.INVALID_ARGUMENT, `${field}: at most ${MAX_LIST} entries`);
  return list;
}

/** Validates and compiles a caller's scope; INVALID_ARGUMENT names the bad field. */
export function compileScope(scope: DiscoveryScope | undefined, field = 'scope'): CompiledScope {
  const v = scope?.visibility;
  const c = scope?.characteristics;
  const text = c?.text ?? '';
  if (text.length > MAX_TEXT)
    throw new MeshError(Code.INVALID_ARGUMENT, `${field}.characteristics.text: longer than ${MAX_TEXT} characters`);
  const range = c?.versionConstraint?.trim() || undefined;
  if (range && !semver.validRange(range)) {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      `${field}.characteristics.version_constraint: not a semver range (${range.slice(0, 40)})`,
    );
  }
  const kinds = new Set<'agent' | 'tool'>();
  for (const k of c?.kinds ?? []) {
    if (k === EntryKind.ENTRY_KIND_AGENT) kinds.add('agent');
    else if (k === EntryKind.ENTRY_KIND_TOOL) kinds.add('tool');
  }
  return {
    namespaces: bounded(v?.namespaces ?? [], `${field}.visibility.namespaces`),
    names: bounded(v?.names ?? [], `${field}.visibility.names`),
    patterns: bounded(v?.patterns ?? [], `${field}.visibility.patterns`).map((p, i) =>
      compileNamePattern(p, `${field}.visibility.patterns[${i}]`),
    ),
    terms: [...new Set(words(text))].slice(0, MAX_TERMS),
    skillIds: bounded(c?.skillIds ?? [], `${field}.characteristics.skill_ids`),
    tags: bounded(c?.tags ?? [], `${field}.characteristics.tags`).map((t) => t.toLowerCase()),
    policies: bounded(c?.policies ?? [], `${field}.characteristics.policies`),
    labels: Object.entries(c?.labels ?? {}),
    versionRange: range,
    range: range ? new semver.Range(range) : undefined,
    kinds,
  };
}

/** Why an entry is visible under the coarse scope, or undefined when it is not. */
function visibility(c: Candidate, s: CompiledScope): string | undefined {
  if (!s.namespaces.length && !s.names.length && !s.patterns.length) return 'visible (no visibility scope)';
  if (s.names.includes(c.name)) return `named exactly ${c.name}`;
  const ns = c.namespace ?? namespaceOf(c.name);
  if (s.namespaces.includes(ns)) return `in namespace ${ns}`;
  const pattern = s.patterns.find((p) => p.test(c.name));
  return pattern?.describe;
}

function visible(c: Candidate, s: CompiledScope): boolean {
  if (!s.namespaces.length && !s.names.length && !s.patterns.length) return true;
  if (s.names.includes(c.name) || s.namespaces.includes(c.namespace ?? namespaceOf(c.name))) return true;
  for (const p of s.patterns) if (p.test(c.name)) return true;
  return false;
}

/** The free-text relevance of a candidate and the terms it has, or undefined when it has none. */
function textMatch(c: Candidate, s: CompiledScope): { relevance: number; hits: string[] } | undefined {
  const weights = termWeights(c);
  const hits: string[] = [];
  let relevance = 0;
  for (const term of s.terms) {
    const weight = weights.get(term) ?? 0;
    if (weight) hits.push(term);
    relevance += weight;
  }
  return hits.length ? { relevance, hits } : undefined;
}

/**
 * Whether an entry passes a scope's visibility and every characteristic but
 * free text: the number of characteristic groups asked for (what a match
 * scores before text relevance), or undefined when it does not pass.
 */
export function filterCandidate(c: Candidate, s: CompiledScope): number | undefined {
  if (s.kinds.size && !s.kinds.has(c.kind)) return undefined;
  if (!visible(c, s)) return undefined;
  return characteristicGroups(c, s);
}

/** filterCandidate without kinds and visibility (which the index checks its own way): the groups, or undefined. */
export function characteristicGroups(c: Candidate, s: CompiledScope): number | undefined {
  let groups = 0;
  if (s.skillIds.length) {
    for (const id of s.skillIds) if (!c.skills.some((k) => k.id === id)) return undefined;
    groups++;
  }
  if (s.tags.length) {
    const tags = tagsOf(c);
    for (const t of s.tags) if (!tags.has(t)) return undefined;
    groups++;
  }
  if (s.policies.length) {
    for (const p of s.policies) if (!c.policies.includes(p)) return undefined;
    groups++;
  }
  if (s.labels.length) {
    for (const [k, v] of s.labels) if (c.labels[k] !== v) return undefined;
    groups++;
  }
  if (s.range) {
    const version = c.parsedVersion === undefined ? semver.parse(c.version) : c.parsedVersion;
    if (!version || !s.range.test(version)) return undefined;
    groups++;
  }
  return groups;
}

/** The free-text relevance of an entry: the sum of its weights of the scope's terms (0: no term). */
export function relevanceOf(weights: Map<string, number>, s: CompiledScope): number {
  let relevance = 0;
  for (const term of s.terms) relevance += weights.get(term) ?? 0;
  return relevance;
}

/**
 * The score of an entry under a scope (higher is better), or undefined when
 * it does not match: the visibility scope admits it and every characteristic
 * holds. Ranks by specificity (characteristics asked for) and free-text
 * relevance (purpose weighs most, then skills, then description). Every match
 * of one scope has the same number of groups: matches differ in score only by
 * relevance, which the index relies on (see discovery-index.ts).
 */
export function scoreCandidate(c: Candidate, s: CompiledScope): number | undefined {
  const groups = filterCandidate(c, s);
  if (groups === undefined) return undefined;
  let score = groups;
  if (s.terms.length) {
    const relevance = relevanceOf(termWeights(c), s);
    if (!relevance) return undefined;
    score += (relevance / s.terms.length) * 2;
  }
  return Math.round(score * 1000) / 1000;
}

/** Matches one entry against a scope (see scoreCandidate), with the reasons it matched, most important first. */
export function matchCandidate(c: Candidate, s: CompiledScope): Match | undefined {
  const score = scoreCandidate(c, s);
  if (score === undefined) return undefined;
  const reasons = [visibility(c, s)!];
  if (s.skillIds.length) reasons.push(`offers ${c.kind === 'agent' ? 'skill' : 'tool'} ${s.skillIds.join(', ')}`);
  if (s.tags.length) reasons.push(`tagged ${s.tags.join(', ')}`);
  if (s.policies.length) reasons.push(`adheres to ${s.policies.join(', ')}`);
  if (s.labels.length) reasons.push(`labelled ${s.labels.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  if (s.versionRange) reasons.push(`version ${c.version} satisfies ${s.versionRange}`);
  const text = s.terms.length ? textMatch(c, s) : undefined;
  if (text)
    reasons.push(`text matches ${text.hits.length}/${s.terms.length} terms (${text.hits.slice(0, 5).join(', ')})`);
  return { score, reasons };
}

/** Orders candidates of equal score: the higher version first, then the name. */
export function compareCandidates(a: Candidate, b: Candidate): number {
  return compareVersions(a, b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** The version part of compareCandidates: the higher version first (0: equal precedence). */
export function compareVersions(a: Candidate, b: Candidate): number {
  const va = a.parsedVersion === undefined ? semver.parse(a.version) : a.parsedVersion;
  const vb = b.parsedVersion === undefined ? semver.parse(b.version) : b.parsedVersion;
  // Most versions have no pre-release part: then the three numbers decide, without semver's general comparison.
  return !va || !vb
    ? semver.rcompare(a.version, b.version)
    : va.prerelease.length || vb.prerelease.length
      ? vb.compare(va)
      : vb.major - va.major || vb.minor - va.minor || vb.patch - va.patch;
}

/** Ranks matches best first; ties go to the higher version, then the name. */
export function compareMatches(
  a: { match: Match; candidate: Candidate },
  b: { match: Match; candidate: Candidate },
): number {
  return b.match.score - a.match.score || compareCandidates(a.candidate, b.candidate);
}
