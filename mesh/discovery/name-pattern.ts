import { RE2JS } from 're2js';
import type { NamePattern } from '../../gen/agentmesh/v1/card.js';
import { Code, MeshError } from '../server/errors.js';

/** Caller-supplied patterns are bounded so that compiling and matching stay cheap. */
export const MAX_PATTERN_LENGTH = 256;

/** A compiled name matcher with a description for discovery reasons. */
export interface NameMatcher {
  test(name: string): boolean;
  describe: string;
}

/**
 * Matches a glob over "namespace/name": `*` matches any run of characters
 * except `/`, `**` any run including `/`, `?` one character other than `/`.
 * Implemented by dynamic programming over pattern × name, so time is
 * O(|pattern|·|name|) whatever the input.
 */
export function globMatches(glob: string, name: string): boolean {
  const tokens: string[] = [];
  for (let i = 0; i < glob.length; i++) {
    if (glob[i] === '*' && glob[i + 1] === '*') {
      tokens.push('**');
      i++;
    } else tokens.push(glob[i]!);
  }
  // reachable[j]: the pattern prefix processed so far can match name[0..j).
  let reachable = new Array<boolean>(name.length + 1).fill(false);
  reachable[0] = true;
  for (const token of tokens) {
    const next = new Array<boolean>(name.length + 1).fill(false);
    if (token === '*' || token === '**') {
      for (let j = 0; j <= name.length; j++) {
        if (reachable[j]) next[j] = true;
        else if (j > 0 && next[j - 1] && (token === '**' || name[j - 1] !== '/')) next[j] = true;
      }
    } else {
      for (let j = 1; j <= name.length; j++) {
        next[j] = reachable[j - 1]! && (token === '?' ? name[j - 1] !== '/' : name[j - 1] === token);
      }
    }
    reachable = next;
  }
  return reachable[name.length]!;
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
  if (p.$case === 'glob') return { test: (name) => globMatches(text, name), describe: `name matches glob ${text}` };
  let re: RE2JS;
  try {
    re = RE2JS.compile(`^(?:${text})$`);
  } catch (err) {
    throw new MeshError(Code.INVALID_ARGUMENT, `${field}.regex: invalid regular expression (${(err as Error).message})`);
  }
  return { test: (name) => re.matches(name), describe: `name matches regex ${text}` };
}
