// An agent in a repository of its own, from the packed framework: `agentmesh new agent --dir`
// writes the project, npm installs the tarball into it, the project's own test passes, and the
// agent joins a running local mesh (AGENTMESH_HOME) and answers `agentmesh task` through its tool.
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MeshFile } from '../mesh/index.js';
import { startLocalMesh, type LocalMesh } from './helpers/local-mesh.js';
import { ROOT, runCommand, waitForLog, type ServiceProcess } from './helpers/processes.js';
import { platformManifest } from './helpers/platform-manifest.js';

const SERVICE = 'demo/triage';
const npm = (args: string[], cwd: string) =>
  runCommand('npm', args, { cwd, env: { ...process.env, NODE_OPTIONS: '' }, timeout: 600_000 });

function startAgent(project: string, env: Record<string, string>): ServiceProcess {
  // What the project's `npm start` runs.
  const child = spawn(process.execPath, ['--import', 'tsx', 'main.ts'], {
    cwd: project,
    env: { ...process.env, NODE_OPTIONS: '', ...env },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (c, s) => resolve(c ?? s ?? -1)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

describe('a standalone agent built on the packed framework', () => {
  let work: string;
  let project: string;
  let mesh: LocalMesh | undefined;
  let agent: ServiceProcess | undefined;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'agentmesh-standalone-'));
    // The package as `npm pack` makes it (its prepack is this build), as test/framework-package.test.ts does.
    const pkg = join(work, 'pkg');
    mkdirSync(pkg);
    for (const part of ['package.json', 'README.md', 'proto'])
      cpSync(join(ROOT, part), join(pkg, part), { recursive: true });
    const built = await runCommand(process.execPath, ['scripts/build.mjs', '--out', join(pkg, 'dist')], {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    if (built.code !== 0) throw new Error(`the build failed:\n${built.stderr}`);
    const packed = await npm(['pack', '--ignore-scripts', '--pack-destination', work], pkg);
    if (packed.code !== 0) throw new Error(`npm pack failed:\n${packed.stderr}`);
    const tarball = join(work, packed.stdout.trim().split('\n').pop()!);
    // A copy of the checkout runs the small local mesh the agent joins.
    const copy = join(work, 'checkout');
    for (const part of ['mesh', 'services', 'devtools', 'gen', 'package.json', 'tsconfig.json'])
      cpSync(join(ROOT, part), join(copy, part), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));

    project = join(work, 'triage');
    const created = await runCommand(
      process.execPath,
      [join(ROOT, 'devtools/cli/bin.mjs'), 'new', 'agent', SERVICE, '--dir', project, '--framework', tarball],
      { env: { ...process.env, NODE_OPTIONS: '' } },
    );
    if (created.code !== 0) throw new Error(`new agent --dir failed:\n${created.stderr}`);
    // Install scripts off: better-sqlite3 would compile for minutes; its addon, built for this very
    // version and node by our own install, is copied in instead (the rest needs no install step).
    const installed = await npm(
      ['install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'],
      project,
    );
    if (installed.code !== 0) throw new Error(`npm install failed:\n${installed.stderr}`);
    const version = (dir: string) =>
      (JSON.parse(readFileSync(join(dir, 'node_modules/better-sqlite3/package.json'), 'utf8')) as { version: string })
        .version;
    if (version(project) === version(ROOT)) {
      const addon = 'node_modules/better-sqlite3/build/Release/better_sqlite3.node';
      mkdirSync(join(project, addon, '..'), { recursive: true });
      cpSync(join(ROOT, addon), join(project, addon));
    } else if ((await npm(['rebuild', 'better-sqlite3'], project)).code !== 0) {
      throw new Error('npm rebuild better-sqlite3 failed');
    }

    // The platform services only: the agent comes from outside the checkout.
    const manifest = join(copy, 'services/local-mesh.json');
    writeFileSync(manifest, platformManifest(readFileSync(manifest, 'utf8')));
    mesh = await startLocalMesh(join(work, 'home'), { root: copy });
  }, 600_000);

  afterAll(async () => {
    if (agent && agent.child.exitCode === null) agent.child.kill('SIGKILL');
    await mesh?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test('the project depends on the framework alone and its own test passes', async () => {
    const pkg = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(Object.keys(pkg.dependencies)).toEqual(['agentmesh']);
    const tested = await npm(['test'], project);
    expect({ code: tested.code, output: tested.code === 0 ? '' : tested.stdout + tested.stderr }).toEqual({
      code: 0,
      output: '',
    });
  }, 300_000);

  test('started with AGENTMESH_HOME, the agent joins the running mesh and answers a task through its tool', async () => {
    agent = startAgent(project, { AGENTMESH_HOME: mesh!.home });
    await waitForLog(agent, 'registered', 60_000);
    const listed = JSON.parse(readFileSync(join(mesh!.home, 'mesh.json'), 'utf8')) as MeshFile;
    expect(listed.services.find((s) => s.name === SERVICE)).toMatchObject({
      kind: 'agent',
      spiffeId: 'spiffe://agentmesh.local/ns/demo/sa/triage',
      pid: agent.child.pid,
    });
    const clients = () =>
      (JSON.parse(readFileSync(join(mesh!.home, 'clients.json'), 'utf8')) as { client_id: string }[]).map(
        (c) => c.client_id,
      );
    expect(clients()).toContain(SERVICE);

    const task = await mesh!.cli(['task', SERVICE, '--example', '1', '--json']);
    expect({ code: task.code, stderr: task.stderr }).toEqual({ code: 0, stderr: '' });
    const result = JSON.parse(task.stdout) as { id: string };
    expect(result).toMatchObject({
      status: { state: 'TASK_STATE_COMPLETED' },
      artifacts: [{ parts: [{ data: { queue: 'technical', urgency: 'high' } }] }],
    });
    // The answer came from the tool: the explanation shows the step that called it.
    const explained = await mesh!.cli(['explain', result.id, '--agent', SERVICE, '--json']);
    expect(explained.stdout).toContain('"classify"');

    // Stopped, it leaves the mesh file and the clients file as it found them.
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    const after = JSON.parse(readFileSync(join(mesh!.home, 'mesh.json'), 'utf8')) as MeshFile;
    expect(after.services.map((s) => s.name)).not.toContain(SERVICE);
    expect(clients()).not.toContain(SERVICE);
  }, 120_000);
});
