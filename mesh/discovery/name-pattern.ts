import { RE2JS } from 're2js';
import type { NamePattern } from '../../gen/agentmesh/v1/card.js';
import { Code, MeshError } from '../server/errors.js';

/** Caller-supplied patterns are bounded so that compiling and matching stay cheap. */
export const MAX_PATTERN_LENGTH = 256;

/** A compiled name matcher with a description for discovery reasons. */
export interface NameMatcher {
  test(name: string): boolean;
  describe: string;
  /** Every matching name starts with this (empty: no constraint). */
  prefix: string;
}

/**
 * Matches a glob over "namespace/name": `*` matches any run of characters
 * except `/`, `**` any run including `/`, `?` one character other than `/`.
 * Dynamic programming over one row of reachable positions: time is
 * O(|pattern|·|name|) whatever the input, with no backtracking.
 */
export function globMatches(glob: string, name: string): boolean {
  const n = name.length;
  let reachable = new Uint8Array(n + 1);
  let next = new Uint8Array(n + 1);
  reachable[0] = 1;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    next.fill(0);
    if (c === '*') {
      const any = glob[i + 1] === '*';
      if (any) i++;
      for (let j = 0; j <= n; j++) {
        if (reachable[j] || (j > 0 && next[j - 1] && (any || name[j - 1] !== '/'))) next[j] = 1;
      }
    } else {
      for (let j = 1; j <= n; j++) next[j] = reachable[j - 1]! && (c === '?' ? name[j - 1] !== '/' : name[j - 1] === c) ? 1 : 0;
    }
    [reachable, next] = [next, reachable];
  }
  return reachable[n] === 1;
}

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
    throw new MeshError(Code.INVALID_ARGUMENT, `${field}.${p.$case}: pattern longer than ${MAX_PATTERN_LENGTH} characters`);
  }
  if (p.$case === 'glob') return { test: (name) => globMatches(text, name), describe: `name matches glob ${text}`, prefix: globPrefix(text) };
  let re: RE2JS;
  try {
    re = RE2JS.compile(`^(?:${text})$`);
  } catch (err) {
    throw new MeshError(Code.INVALID_ARGUMENT, `${field}.regex: invalid regular expression (${(err as Error).message})`);
  }
  // A leading run of plain characters is a prefix every match must start with.
  const literal = /^[A-Za-z0-9/_-]*/.exec(text)?.[0] ?? '';
  const prefix = /[?*+{|]/.test(text[literal.length] ?? '') ? literal.slice(0, -1) : literal;
  return { test: (name) => re.matches(name), describe: `name matches regex ${text}`, prefix: text.includes('|') ? '' : prefix };
}
