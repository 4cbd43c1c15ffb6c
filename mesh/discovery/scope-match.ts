import semver from 'semver';
import { EntryKind, type DiscoveryScope } from '../../gen/agentmesh/v1/card.js';
import { Code, MeshError } from '../server/errors.js';
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
  /** Precomputed text weights per term (purpose 3, skills 2, description 1, summed); computed on demand when absent. */
  terms?: Map<string, number>;
}

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
  if (text.length > MAX_TEXT) throw new MeshError(Code.INVALID_ARGUMENT, `${field}.characteristics.text: longer than ${MAX_TEXT} characters`);
  const range = c?.versionConstraint?.trim() || undefined;
  if (range && !semver.validRange(range)) {
    throw new MeshError(Code.INVALID_ARGUMENT, `${field}.characteristics.version_constraint: not a semver range (${range.slice(0, 40)})`);
  }
  const kinds = new Set<'agent' | 'tool'>();
  for (const k of c?.kinds ?? []) {
    if (k === EntryKind.ENTRY_KIND_AGENT) kinds.add('agent');
    else if (k === EntryKind.ENTRY_KIND_TOOL) kinds.add('tool');
  }
  return {
    namespaces: bounded(v?.namespaces ?? [], `${field}.visibility.namespaces`),
    names: bounded(v?.names ?? [], `${field}.visibility.names`),
    patterns: bounded(v?.patterns ?? [], `${field}.visibility.patterns`).map((p, i) => compileNamePattern(p, `${field}.visibility.patterns[${i}]`)),
    terms: [...new Set(words(text))].slice(0, MAX_TERMS),
    skillIds: bounded(c?.skillIds ?? [], `${field}.characteristics.skill_ids`),
    tags: bounded(c?.tags ?? [], `${field}.characteristics.tags`).map((t) => t.toLowerCase()),
    policies: bounded(c?.policies ?? [], `${field}.characteristics.policies`),
    labels: Object.entries(c?.labels ?? {}),
    versionRange: range,
    kinds,
  };
}

/** Why an entry is visible under the coarse scope, or undefined when it is not. */
function visibility(c: Candidate, s: CompiledScope): string | undefined {
  if (!s.namespaces.length && !s.names.length && !s.patterns.length) return 'visible (no visibility scope)';
  if (s.names.includes(c.name)) return `named exactly ${c.name}`;
  const ns = c.name.slice(0, c.name.indexOf('/'));
  if (s.namespaces.includes(ns)) return `in namespace ${ns}`;
  const pattern = s.patterns.find((p) => p.test(c.name));
  return pattern?.describe;
}

/**
 * Matches one entry against a scope: the visibility scope admits it, and
 * every characteristic holds. The score ranks by free-text relevance
 * (purpose weighs most, then skills, then description) and specificity.
 */
export function matchCandidate(c: Candidate, s: CompiledScope): Match | undefined {
  if (s.kinds.size && !s.kinds.has(c.kind)) return undefined;
  const visible = visibility(c, s);
  if (!visible) return undefined;
  const reasons = [visible];
  let score = 0;
  const skillIds = new Set(c.skills.map((k) => k.id));
  const missingSkill = s.skillIds.find((id) => !skillIds.has(id));
  if (missingSkill) return undefined;
  if (s.skillIds.length) reasons.push(`offers ${c.kind === 'agent' ? 'skill' : 'tool'} ${s.skillIds.join(', ')}`);
  const tags = new Set(c.skills.flatMap((k) => k.tags.map((t) => t.toLowerCase())));
  if (s.tags.some((t) => !tags.has(t))) return undefined;
  if (s.tags.length) reasons.push(`tagged ${s.tags.join(', ')}`);
  if (s.policies.some((p) => !c.policies.includes(p))) return undefined;
  if (s.policies.length) reasons.push(`adheres to ${s.policies.join(', ')}`);
  if (s.labels.some(([k, v]) => c.labels[k] !== v)) return undefined;
  if (s.labels.length) reasons.push(`labelled ${s.labels.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  if (s.versionRange) {
    if (!semver.satisfies(c.version, s.versionRange)) return undefined;
    reasons.push(`version ${c.version} satisfies ${s.versionRange}`);
  }
  score += reasons.length - 1;
  if (s.terms.length) {
    const weights = c.terms ?? termWeights(c);
    const hits: string[] = [];
    let relevance = 0;
    for (const term of s.terms) {
      const weight = weights.get(term) ?? 0;
      if (weight) hits.push(term);
      relevance += weight;
    }
    if (!hits.length) return undefined;
    score += (relevance / s.terms.length) * 2;
    reasons.push(`text matches ${hits.length}/${s.terms.length} terms (${hits.slice(0, 5).join(', ')})`);
  }
  return { score: Math.round(score * 1000) / 1000, reasons };
}

/** Ranks matches best first; ties go to the higher version, then the name. */
export function compareMatches(a: { match: Match; candidate: Candidate }, b: { match: Match; candidate: Candidate }): number {
  return b.match.score - a.match.score || semver.rcompare(a.candidate.version, b.candidate.version) || a.candidate.name.localeCompare(b.candidate.name);
}
