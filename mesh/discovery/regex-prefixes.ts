/** At most this many prefixes: each is a bisection per run of the index's rank order. */
const MAX_PREFIXES = 64;
const PLAIN = /[A-Za-z0-9/_-]/;
const QUANTIFIER = /[?*+{]/;

/**
 * Literal prefixes one of which starts every match of a regular expression
 * (anchored to the whole name), read from its leading plain characters and
 * small character classes, so that `ns1[0-9]/agent-1.*` gives `ns10/agent-1`
 * … `ns19/agent-1` and an index looks up ten narrow name ranges instead of
 * every name starting with `ns1`. Read conservatively: it stops at the first
 * element it does not understand, or one a quantifier follows; none at all
 * when the expression has an alternation. An empty answer is always safe.
 */
export function regexPrefixes(regex: string): string[] {
  if (regex.includes('|')) return [];
  let prefixes = [''];
  let i = 0;
  while (i < regex.length) {
    let chars: string[];
    let next: number;
    if (PLAIN.test(regex[i]!)) {
      chars = [regex[i]!];
      next = i + 1;
    } else if (regex[i] === '[') {
      const close = regex.indexOf(']', i + 1);
      const set = close > i + 1 ? classChars(regex.slice(i + 1, close)) : undefined;
      if (!set) break;
      chars = set;
      next = close + 1;
    } else break;
    if (QUANTIFIER.test(regex[next] ?? '') || prefixes.length * chars.length > MAX_PREFIXES) break;
    prefixes = prefixes.flatMap((p) => chars.map((c) => p + c));
    i = next;
  }
  return prefixes[0] ? prefixes : [];
}

/** The characters of a class body such as `0-9` or `abc_`, or undefined for anything else (negation, escapes). */
export function classChars(body: string): string[] | undefined {
  const out = new Set<string>();
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (body[i + 1] === '-' && i + 2 < body.length) {
      const to = body[i + 2]!;
      const sameKind = [/[0-9]/, /[a-z]/, /[A-Z]/].some((k) => k.test(c) && k.test(to));
      if (!sameKind || to < c) return undefined;
      for (let code = c.charCodeAt(0); code <= to.charCodeAt(0); code++) out.add(String.fromCharCode(code));
      i += 2;
    } else if (/[A-Za-z0-9_/]/.test(c)) out.add(c);
    else return undefined;
  }
  return out.size ? [...out] : undefined;
}
