import { classChars } from './regex-prefixes.js';

// A name's characters as one 32-bit set, kept per index entry: a pattern whose every match must
// hold some character the name lacks is ruled out by one AND, without running its program (a
// regular expression costs microseconds a name, and a pattern set that matches nothing would run
// over every candidate). Lower-case letters have a bit each; digits, "-", "/", "_" and "." a bit
// per kind or character; anything else shares the last bit. Reading patterns is conservative: an
// empty set of requirements is always safe.

const OTHER = 1 << 31;

/** The bit of one character. */
function charBit(c: string): number {
  const code = c.charCodeAt(0);
  if (code >= 97 && code <= 122) return 1 << (code - 97);
  if (code >= 48 && code <= 57) return 1 << 26;
  const i = '-/_.'.indexOf(c);
  return i >= 0 ? 1 << (27 + i) : OTHER;
}

/** The set of characters a name holds. */
export function nameChars(name: string): number {
  let bits = 0;
  for (let i = 0; i < name.length; i++) bits |= charBit(name[i]!);
  return bits;
}

/** What every name matching a glob holds: each of its literal characters. */
export function globRequirements(glob: string): number[] {
  const out = new Set<number>();
  for (const c of glob) if (c !== '*' && c !== '?') out.add(charBit(c));
  return [...out];
}

/**
 * Sets of characters, each of which every match of a regular expression (anchored to the whole
 * name) must hold one of: its top-level literal characters and small classes that no quantifier
 * makes optional. Groups are skipped; escapes, flags and alternations give none at all.
 */
export function regexRequirements(regex: string): number[] {
  if (regex.includes('\\') || regex.includes('|') || regex.includes('(?')) return [];
  const out = new Set<number>();
  const optional = (at: number) => '?*{'.includes(regex[at] ?? '+');
  let i = 0;
  while (i < regex.length) {
    const c = regex[i]!;
    if (c === '(') {
      let depth = 1;
      while (depth > 0 && ++i < regex.length) {
        if (regex[i] === '[') return [...out];
        if (regex[i] === '(') depth++;
        else if (regex[i] === ')') depth--;
      }
      i++;
    } else if (c === '[') {
      const close = regex.indexOf(']', i + 1);
      if (close < 0) return [...out];
      const chars = close > i + 1 ? classChars(regex.slice(i + 1, close)) : undefined;
      if (chars && !optional(close + 1)) out.add(chars.reduce((bits, ch) => bits | charBit(ch), 0));
      i = close + 1;
    } else if (c === '{') {
      const close = regex.indexOf('}', i);
      if (close < 0) return [...out];
      i = close + 1;
    } else if ('.^$*+?'.includes(c)) i++;
    else if (c === ')' || c === ']' || c === '}') return [...out];
    else {
      if (!optional(i + 1)) out.add(charBit(c));
      i++;
    }
  }
  return [...out];
}

/** Whether a name's characters meet every requirement. */
export function meets(chars: number, requirements: readonly number[]): boolean {
  for (const r of requirements) if ((chars & r) === 0) return false;
  return true;
}
