// The CLI's bundle cache: the bundle found there is run as code, so only a folder of the current
// user inside the checkout is used, and a bundle is run only when its sources are as they were.
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, runCommand } from './helpers/processes.js';

interface Manifest {
  builtAt: number;
  inputs: { path: string; mtimeMs: number; size: number; sha256: string }[];
}
interface CliBundle {
  cacheDir(env: Record<string, string>, warn: (line: string) => void, uid?: number): string;
  freshEntry(cache: string): string | undefined;
}

// The module is plain JavaScript run by node: loaded by URL, typed here.
const bundle = (await import(pathToFileURL(join(ROOT, 'devtools/cli/cli-bundle.mjs')).href)) as CliBundle;
const DEFAULT = bundle.cacheDir({}, () => undefined);

describe('AGENTMESH_CLI_CACHE: only a private folder inside the checkout', () => {
  const made: string[] = [];
  const folder = (parent: string) => {
    const dir = mkdtempSync(join(parent, 'agentmesh-cli-cache-'));
    made.push(dir);
    return dir;
  };
  const inCheckout = () => folder(join(ROOT, 'node_modules', '.cache'));
  afterAll(() => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  const choose = (dir: string, uid = process.getuid!()) => {
    const lines: string[] = [];
    return { dir: bundle.cacheDir({ AGENTMESH_CLI_CACHE: dir }, (line) => lines.push(line), uid), lines };
  };

  test('a private folder of the current user inside the checkout is used, without a word', () => {
    const dir = inCheckout();
    expect(choose(dir)).toEqual({ dir, lines: [] });
  });

  test('a folder outside the checkout is refused with one line, once, for the default cache', () => {
    const dir = folder(tmpdir());
    const first = choose(dir);
    expect(first).toEqual({
      dir: DEFAULT,
      lines: [`agentmesh: AGENTMESH_CLI_CACHE=${dir} ignored (not inside the checkout); using the default cache\n`],
    });
    expect(choose(dir)).toEqual({ dir: DEFAULT, lines: [] });
  });

  test('a link inside the checkout to a folder outside it is refused', () => {
    const link = join(inCheckout(), 'link');
    symlinkSync(folder(tmpdir()), link);
    expect(choose(link).lines).toEqual([expect.stringContaining('(not inside the checkout)')]);
  });

  test('a folder writable by group or others is refused', () => {
    const dir = inCheckout();
    chmodSync(dir, 0o770);
    expect(choose(dir)).toEqual({ dir: DEFAULT, lines: [expect.stringContaining('(writable by group or others)')] });
  });

  test("another user's folder is refused", () => {
    const dir = inCheckout();
    expect(choose(dir, process.getuid!() + 1)).toEqual({
      dir: DEFAULT,
      lines: [expect.stringContaining('(not owned by the current user)')],
    });
  });
});

describe('a bundle is run only when its sources are as they were', () => {
  let cache: string;
  beforeAll(() => (cache = mkdtempSync(join(ROOT, 'node_modules', '.cache', 'agentmesh-cli-test-'))));
  afterAll(() => rmSync(cache, { recursive: true, force: true }));

  test('package.json and tsconfig.json are inputs; a file edited in the tick of the build is hashed again', async () => {
    const built = await runCommand(process.execPath, [join(ROOT, 'devtools/cli/bin.mjs'), '--help'], {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: '', AGENTMESH_CLI_CACHE: cache },
    });
    expect(built.code).toBe(0);
    const entry = bundle.freshEntry(cache);
    expect(entry).toBeDefined();
    const file = join(entry!, '..', 'inputs.json');
    const manifest = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
    expect(manifest.inputs.map((i) => i.path)).toEqual(expect.arrayContaining(['package.json', 'tsconfig.json']));

    // As if main.ts had been read by the build and edited again within the same mtime tick, same
    // size: its mtime and size are those recorded, its content is not.
    const main = manifest.inputs.find((i) => i.path === 'devtools/cli/main.ts')!;
    main.sha256 = '0'.repeat(64);
    manifest.builtAt = main.mtimeMs + 1_000;
    writeFileSync(file, JSON.stringify(manifest));
    expect(bundle.freshEntry(cache)).toBeUndefined();
  });
});
