// What a `docker build` context holds after .dockerignore, with Docker's
// matching rules (moby/patternmatcher): patterns relative to the context
// root, `*` and `?` within one path segment, `**` across any number of
// them, a pattern excluding a folder excludes what is in it, `!` re-includes,
// and the last matching line wins.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

interface Rule {
  exclude: boolean;
  regex: RegExp;
}

function compile(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      i++;
      if (pattern[i + 1] === '/') {
        i++;
        re += '(.*/)?';
      } else re += '.*';
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += `\\${pattern[++i]}`;
    else re += /[.+^${}()|]/.test(c) ? `\\${c}` : c;
  }
  return new RegExp(`^${re}$`);
}

/** The rules of a .dockerignore file. */
export function parseDockerignore(text: string): Rule[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const exclude = !l.startsWith('!');
      const pattern = (exclude ? l : l.slice(1).trim()).replace(/^\/+/, '').replace(/\/+$/, '');
      return { exclude, regex: compile(pattern) };
    });
}

/** Whether the context path (slash-separated, relative to the root) is left out of the build context. */
export function ignored(rules: Rule[], path: string): boolean {
  const segments = path.split('/');
  const prefixes = segments.map((_, i) => segments.slice(0, i + 1).join('/'));
  let out = false;
  for (const rule of rules) if (prefixes.some((p) => rule.regex.test(p))) out = rule.exclude;
  return out;
}

/** Every file under `source` (a file or folder of the context at `root`) that reaches the build, as context paths. */
export function contextFiles(root: string, source: string, rules: Rule[]): string[] {
  const out: string[] = [];
  const walk = (abs: string) => {
    const path = relative(root, abs).split(sep).join('/');
    if (ignored(rules, path)) return;
    let entries;
    try {
      entries = readdirSync(abs, { withFileTypes: true });
    } catch {
      out.push(path);
      return;
    }
    for (const e of entries) walk(join(abs, e.name));
  };
  walk(join(root, source));
  return out.sort();
}

/** The rules of the repository's .dockerignore. */
export const dockerignoreAt = (root: string) => parseDockerignore(readFileSync(join(root, '.dockerignore'), 'utf8'));
