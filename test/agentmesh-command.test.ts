// The agentmesh command runs the CLI's JavaScript bundle, and never one built from sources that
// have changed since. Each test uses a cache of its own (inside the checkout, where the bundle
// finds node_modules), so that the bundle people use is not touched.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, runCommand } from './helpers/processes.js';

interface Manifest {
  inputs: { path: string; mtimeMs: number; size: number; sha256: string }[];
}

describe('the agentmesh command: its bundle and its help', () => {
  let cache: string;
  const agentmesh = (args: string[]) =>
    runCommand(process.execPath, [join(ROOT, 'devtools/cli/bin.mjs'), ...args], {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: '', AGENTMESH_CLI_CACHE: cache },
    });
  const current = () => join(cache, readFileSync(join(cache, 'current'), 'utf8').trim());
  const MARK = 'run from this very bundle';
  /** Marks the current bundle, so that a run shows whether it was the one that ran. */
  const mark = () => {
    const entry = join(current(), 'main.mjs');
    writeFileSync(entry, `process.stderr.write(${JSON.stringify(`${MARK}\n`)});\n${readFileSync(entry, 'utf8')}`);
  };

  beforeEach(() => {
    cache = mkdtempSync(join(ROOT, 'node_modules', '.cache', 'agentmesh-cli-test-'));
  });

  afterEach(() => rmSync(cache, { recursive: true, force: true }));

  test('the first run builds the bundle from the CLI and the framework it uses; later runs use it', async () => {
    const first = await agentmesh(['--help']);
    expect(first).toMatchObject({ code: 0, stdout: expect.stringContaining('usage: agentmesh <command>') });
    const { inputs } = JSON.parse(readFileSync(join(current(), 'inputs.json'), 'utf8')) as Manifest;
    expect(inputs.map((i) => i.path)).toEqual(
      expect.arrayContaining(['devtools/cli/main.ts', 'devtools/cli/connection.ts', 'mesh/index.ts']),
    );
    mark();
    const second = await agentmesh(['agents', '--help']);
    expect(second).toMatchObject({ code: 0, stdout: expect.stringContaining('usage: agentmesh agents') });
    expect(second.stderr).toContain(MARK);
  });

  test('a bundle built from a source that has changed since is never run: it is rebuilt first', async () => {
    expect((await agentmesh(['--help'])).code).toBe(0);
    const stale = current();
    mark();
    // As if connection.ts had been edited after the bundle was built: another size, mtime and hash.
    const manifest = JSON.parse(readFileSync(join(stale, 'inputs.json'), 'utf8')) as Manifest;
    const edited = manifest.inputs.find((i) => i.path === 'devtools/cli/connection.ts')!;
    Object.assign(edited, { mtimeMs: edited.mtimeMs - 1_000, size: edited.size - 1, sha256: '0'.repeat(64) });
    writeFileSync(join(stale, 'inputs.json'), JSON.stringify(manifest));
    const run = await agentmesh(['--help']);
    expect(run).toMatchObject({ code: 0, stdout: expect.stringContaining('usage: agentmesh <command>') });
    expect(run.stderr).not.toContain(MARK);
    expect(current()).not.toBe(stale);
    expect(existsSync(join(current(), 'main.mjs'))).toBe(true);
  });

  test('a bundle that does not load is not fatal: the CLI runs from source, and the next run rebuilds', async () => {
    expect((await agentmesh(['--help'])).code).toBe(0);
    const broken = current();
    // A damaged cache: the bundle's entry no longer parses.
    writeFileSync(join(broken, 'main.mjs'), `export const = ;\n${readFileSync(join(broken, 'main.mjs'), 'utf8')}`);
    const run = await agentmesh(['--help']);
    expect(run).toMatchObject({ code: 0, stdout: expect.stringContaining('usage: agentmesh <command>') });
    expect(run.stderr).toMatch(/^agentmesh: the CLI bundle did not load \(.+\); running from source\n$/);
    const next = await agentmesh(['--help']);
    expect(next).toMatchObject({ code: 0, stderr: '' });
    expect(current()).not.toBe(broken);
  });

  test("<command> --help prints that command's own usage, for every command", async () => {
    const overall = (await agentmesh(['--help'])).stdout;
    for (const command of ['agents', 'tools', 'task', 'answer', 'inbox', 'explain', 'audit', 'token', 'new']) {
      for (const args of [
        [command, '--help'],
        [command, '-h'],
        ['help', command],
        ['--user', 'ada', command, '--help'],
      ]) {
        const r = await agentmesh(args);
        expect({ args, code: r.code, first: r.stdout.split('\n')[0] }).toEqual({
          args,
          code: 0,
          first: expect.stringMatching(new RegExp(`^usage: agentmesh ${command} `)),
        });
        expect(r.stdout).toContain('--user NAME');
        expect(r.stdout).not.toBe(overall);
      }
    }
    expect(await agentmesh(['help', 'nothing'])).toMatchObject({
      code: 2,
      stderr: 'agentmesh: unknown command "nothing" (see agentmesh --help)\n',
    });
  });
});
