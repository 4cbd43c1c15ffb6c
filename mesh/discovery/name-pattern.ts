import { RE2JS } from 're2js';
import type { NamePattern } from '../../gen/agentmesh/v1/card.js';
import { Code, MeshError } from '../core/index.js';
import { globRequirements, regexRequirements } from './name-chars.js';
import { regexPrefixes } from './regex-prefixes.js';

/** Caller-supplied patterns are bounded so that compiling and matching stay cheap. */
export const MAX_PATTERN_LENGTH = 256;

// Compiled regular expressions by their text (RE2 programs and what is read from the text are immutable), the oldest out first.
const MAX_COMPILED = 256;
const compiled = new Map<string, NameMatcher>();

/** A compiled name matcher with a description for discovery reasons. */
export interface NameMatcher {
  test(name: string): boolean;
  describe: string;
  /** Every matching name starts with one of these (none: no constraint). */
  prefixes: string[];
  /** Every matching name holds a character of each of these sets (name-chars.ts; none: no constraint). */
  requirements: number[];
}

/**
 * Matches a glob over "namespace/name": `*` matches any run of characters
 * except `/`, `**` any run including `/`, `?` one character other than `/`.
 * Dynamic programming over one row of reachable positions: time is
 * O(|pattern|·|name|) whatever the input, with no backtracking.
 */
export function globMatches(glob: string, name: string): boolean {
  return globMatcher(glob)(name);
}

/**
 * Classic wildcard matching of one path segment (neither side holds "/"):
 * `*` any run, `?` one character; on a mismatch only the last `*` takes one
 * more character, so time is O(|pattern|·|segment|) at worst, linear usually.
 */
function segmentMatches(p: string, s: string, from = 0, to = s.length): boolean {
  let i = 0;
  let j = from;
  let star = -1;
  let mark = 0;
  while (j < to) {
    if (i < p.length && (p[i] === '?' || p[i] === s[j])) {
      i++;
      j++;
    } else if (i < p.length && p[i] === '*') {
      star = i++;
      mark = j;
    } else if (star >= 0) {
      i = star + 1;
      j = ++mark;
    } else return false;
  }
  while (p[i] === '*') i++;
  return i === p.length;
}

/** The general glob matcher (any mix of `*`, `**`, `?`): a dynamic programme over the name, its two rows reused. */
function dynamicMatcher(glob: string, prefix: string): (name: string) => boolean {
  let reachable = new Uint8Array(0);
  let next = new Uint8Array(0);
  return (name) => {
    if (!name.startsWith(prefix)) return false;
    const n = name.length;
    if (reachable.length < n + 1) {
      reachable = new Uint8Array(n + 1);
      next = new Uint8Array(n + 1);
    }
    reachable.fill(0, 0, n + 1);
    reachable[0] = 1;
    for (let i = 0; i < glob.length; i++) {
      const c = glob[i]!;
      next.fill(0, 0, n + 1);
      if (c === '*') {
        const any = glob[i + 1] === '*';
        if (any) i++;
        for (let j = 0; j <= n; j++) {
          if (reachable[j] || (j > 0 && next[j - 1] && (any || name[j - 1] !== '/'))) next[j] = 1;
        }
      } else {
        for (let j = 1; j <= n; j++)
          next[j] = reachable[j - 1]! && (c === '?' ? name[j - 1] !== '/' : name[j - 1] === c) ? 1 : 0;
      }
      [reachable, next] = [next, reachable];
    }
    return reachable[n] === 1;
  };
}

/**
 * A matcher for one glob, compiled once per Discover call (which tests it
 * against thousands of names): the common shapes — a literal, "prefix*",
 * "prefix**" — are plain string tests; a glob without `**` matches segment
 * by segment; anything else runs the general dynamic programme.
 */
export function globMatcher(glob: string): (name: string) => boolean {
  const first = glob.search(/[*?]/);
  if (first < 0) return (name) => name === glob;
  const prefix = glob.slice(0, first);
  const tail = glob.slice(first);
  if (tail === '**') return (name) => name.startsWith(prefix);
  if (tail === '*') return (name) => name.startsWith(prefix) && name.indexOf('/', prefix.length) < 0;
  if (glob.includes('**')) return dynamicMatcher(glob, prefix);
  const segments = glob.split('/');
  return (name) => {
    if (!name.startsWith(prefix)) return false;
    // Segment by segment over the name itself, without splitting it (this runs for thousands of names).
    let from = 0;
    for (let k = 0; k < segments.length; k++) {
      const slash = name.indexOf('/', from);
      const last = k === segments.length - 1;
      if (last !== slash < 0) return false;
      const to = last ? name.length : slash;
      if (!segmentMatches(segments[k]!, name, from, to)) return false;
      from = to + 1;
    }
    return true;
  };
}

/** The general matcher alone, for checking the fast paths against it. */
export const globMatchesByProgramme = (glob: string, name: string): boolean => dynamicMatcher(glob, '')(name);

/** The literal text a glob starts with (up to its first wildcard): lets an index skip names that cannot match. */
export function globPrefix(glob: string): string {
  const m = /^[^*?]*/.exec(glob);
  return m ? m[0] : '';
}

/**
 * Compiles a NamePattern from a caller: globs with the matcher above,
 * regular expressions with RE2 semantics (re2js: linear time, no
 * backreferences or lookaround), anchored to the whole name. Over-long or
 * invalid patterns are INVALID_ARGUMENT naming the field.
 */
export function compileNamePattern(pattern: NamePattern | undefined, field: string): NameMatcher {
  const p = pattern?.pattern;
  if (!p) throw new MeshError(Code.INVALID_ARGUMENT, `${field}: a pattern needs glob or regex`);
  const text = p.$case === 'glob' ? p.glob : p.regex;
  if (text.length === 0) throw new MeshError(Code.INVALID_ARGUMENT, `${field}.${p.$case}: empty pattern`);
  if (text.length > MAX_PATTERN_LENGTH) {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      `${field}.${p.$case}: pattern longer than ${MAX_PATTERN_LENGTH} characters`,
    );
  }
  if (p.$case === 'glob') {
    const prefix = globPrefix(text);
    return {
      test: globMatcher(text),
      describe: `name matches glob ${text}`,
      prefixes: prefix ? [prefix] : [],
      requirements: globRequirements(text),
    };
  }
  let matcher = compiled.get(text);
  if (!matcher) {
    let regex: RE2JS;
    try {
      regex = RE2JS.compile(`^(?:${text})$`);
    } catch (err) {
      throw new MeshError(
        Code.INVALID_ARGUMENT,
        `${field}.regex: invalid regular expression (${(err as Error).message})`,
      );
    }
    const literals = requiredLiterals(text);
    matcher = {
      // Most names lack a piece of text every match must contain: a substring test rejects them before the RE2 program runs.
      test: literals.length
        ? (name) => literals.every((l) => name.includes(l)) && regex.matches(name)
        : (name) => regex.matches(name),
      describe: `name matches regex ${text}`,
      prefixes: regexPrefixes(text),
      requirements: regexRequirements(text),
    };
    // Agents ask with the same scope again and again: compiling costs more than matching a namespace.
    if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value!);
    compiled.set(text, matcher);
  }
  return matcher;
}

/**
 * Runs of plain characters every match of a regular expression must contain,
 * read conservatively: only at the top level (not in groups or classes),
 * without a character a quantifier applies to, and none when there is an
 * alternation. Used as a cheap pre-test; an empty answer is always safe.
 */
export function requiredLiterals(regex: string): string[] {
  // Escapes (\x{..}, \p{..}, \Q..\E), flag groups such as (?i) and a class opening with "]"
  // change what plain characters mean: no pre-test for those.
  if (regex.includes('\\') || /\(\?[a-zA-Z-]*\)/.test(regex) || /\[\^?\]/.test(regex)) return [];
  const runs: string[] = [];
  let run = '';
  const end = () => {
    if (run.length >= 2) runs.push(run);
    run = '';
  };
  for (let i = 0; i < regex.length; i++) {
    const c = regex[i]!;
    if (/[A-Za-z0-9/_-]/.test(c)) {
      // A quantifier after it makes this character optional or repeated: it ends the run, without it.
      if (/[?*+{]/.test(regex[i + 1] ?? '')) end();
      else run += c;
      continue;
    }
    end();
    if (c === '|') return [];
    // A repetition count ({2}, {1,63}) holds digits that are not text of the name.
    if (c === '{') {
      while (i < regex.length && regex[i] !== '}') i++;
    } else if (c === '[') {
      while (i < regex.length && regex[i] !== ']') i++;
    } else if (c === '(') {
      for (let depth = 1; depth > 0 && ++i < regex.length;) {
        if (regex[i] === '(') depth++;
        else if (regex[i] === ')') depth--;
        // A class inside may hold a parenthesis: the group's end is then not found by counting.
        else if (regex[i] === '[') return [];
      }
      // A quantified group may be absent: what follows still is a separate run.
    }
  }
  end();
  return runs;
}
