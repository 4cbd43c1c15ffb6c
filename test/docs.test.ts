// The documentation is part of the product: a variable the code reads but the reference does not
// list, a CLI flag nobody can find, or a link out of the repository is a bug a reader hits.
// (Links that resolve to files and headings are checked by `npm run lint:links`.)
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join, relative, resolve } from 'node:path';
import { ROOT } from './helpers/processes.js';

const SKIP_DIRS = new Set(['node_modules', 'dist', 'gen', '.git', '.agentmesh', 'test-artifacts']);

function files(dir: string, keep: (path: string) => boolean): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return SKIP_DIRS.has(e.name) ? [] : files(path, keep);
    return keep(path) ? [path] : [];
  });
}

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

// Comments may name variables that are not read (e.g. what a library would read, and we override).
const withoutComments = (text: string) =>
  text
    .split('\n')
    .filter((line) => !/^\s*(\/\/|\/\*|\*|#)/.test(line))
    .map((line) => line.replace(/(^|\s)\/\/.*$/, ''))
    .join('\n');

const ENV_NAME = /\b(?:(?:AGENTMESH|OPENAI|VAULT|OTEL)_[A-Z0-9_]*[A-Z0-9]|DATABASE_URL)\b/g;
const TEST_ENV_NAME = /\b(?:AGENTMESH_TEST|AGENTMESH_BENCH|VAULT_TEST)_[A-Z0-9_]*[A-Z0-9]\b/g;

/** Every environment variable the shipped code reads, plus the knobs the tests and benchmarks offer. */
function variablesInCode(): Map<string, string> {
  const found = new Map<string, string>();
  const source = ['mesh', 'services', 'devtools', 'scripts'].flatMap((dir) =>
    files(dir, (p) => ['.ts', '.mjs', '.cjs', '.sh'].includes(extname(p)) && !p.endsWith('.test.ts')),
  );
  const texts = source.map((p) => [p, withoutComments(read(p))] as const);
  // Upper-case constants (e.g. VAULT_TOKEN_DIR, a mount path) share the prefixes but are not variables.
  const constants = new Set(
    texts.flatMap(([, t]) => [...t.matchAll(/\bconst\s+([A-Z][A-Z0-9_]+)\s*=/g)].map((m) => m[1])),
  );
  for (const [path, text] of texts)
    for (const [name] of text.matchAll(ENV_NAME)) if (!constants.has(name) && !found.has(name)) found.set(name, path);
  const harness = ['test', 'bench'].flatMap((dir) =>
    files(dir, (p) => extname(p) === '.ts' && p !== join('test', 'docs.test.ts')),
  );
  for (const path of harness)
    for (const [name] of read(path).matchAll(TEST_ENV_NAME)) if (!found.has(name)) found.set(name, path);
  return found;
}

/** The variables docs/configuration.md lists: table rows whose first cell is one `NAME`. */
function variablesDocumented(): string[] {
  return [...read('docs/configuration.md').matchAll(/^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|/gm)].map((m) => m[1]!);
}

describe('docs/configuration.md', () => {
  const inCode = variablesInCode();
  const documented = variablesDocumented();

  test('finds the variables the code reads (the extraction itself works)', () => {
    for (const name of [
      'AGENTMESH_OAUTH_ISSUER',
      'DATABASE_URL',
      'VAULT_K8S_ROLE',
      'OPENAI_API_KEY',
      'AGENTMESH_TEST_PG_URL',
    ])
      expect(inCode.has(name)).toBe(true);
    expect(inCode.has('VAULT_TOKEN_DIR')).toBe(false);
  });

  test('lists every variable the code reads', () => {
    const missing = [...inCode].filter(([name]) => !documented.includes(name)).map(([n, where]) => `${n} (${where})`);
    expect(missing).toEqual([]);
  });

  test('lists each variable exactly once', () => {
    const twice = documented.filter((name, i) => documented.indexOf(name) !== i);
    expect(twice).toEqual([]);
  });

  test('lists no variable that no code reads', () => {
    expect(documented.filter((name) => !inCode.has(name))).toEqual([]);
  });
});

describe('docs/cli.md', () => {
  test('documents every command and every flag of the CLI', () => {
    const doc = read('docs/cli.md');
    const sources = files('devtools/cli', (p) => p.endsWith('.ts') && !p.endsWith('.test.ts')).map(read);
    // parse('<command>', args, { flag: { type ... } }) declares each command's flags; --user and --help are global.
    const flags = new Set(['user', 'help']);
    for (const source of sources)
      for (const [, body] of source.matchAll(/parse\('[a-z]+', args, \{([\s\S]*?)\}\);/g))
        for (const [, flag] of body!.matchAll(/'?([a-z][a-z-]*)'?: \{ type:/g)) flags.add(flag!);
    const table = /^const COMMANDS[\s\S]*?\n\};/m.exec(read('devtools/cli/main.ts'))![0];
    const names = [...table.matchAll(/^\s+(\w+):/gm)].map((m) => m[1]!);
    expect(flags.size).toBeGreaterThan(10);
    expect(names).toEqual(expect.arrayContaining(['answer', 'tools', 'new']));
    expect([...flags].filter((f) => !new RegExp(`--${f}(?![a-z-])`).test(doc))).toEqual([]);
    expect(names.filter((c) => !doc.includes(`\`${c}`) && !doc.includes(`agentmesh ${c}`))).toEqual([]);
  });
});

describe('Markdown', () => {
  const markdown = files('.', (p) => extname(p) === '.md');

  test('links only to files inside the repository', () => {
    const outside: string[] = [];
    for (const path of markdown) {
      const text = read(path).replace(/```[\s\S]*?```/g, '');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z][a-z0-9+.-]*:|^#/i.test(target!)) continue;
        const file = resolve(ROOT, dirname(path), decodeURI(target!.split('#')[0]!));
        if (relative(ROOT, file).startsWith('..') || target!.startsWith('/')) outside.push(`${path}: ${target}`);
      }
    }
    expect(markdown).toContain('README.md');
    expect(outside).toEqual([]);
  });

  test('README.md stays an entry point (at most 250 lines; the reference is in docs/)', () => {
    expect(read('README.md').split('\n').length).toBeLessThanOrEqual(250);
  });
});
