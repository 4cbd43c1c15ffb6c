// `agentmesh new agent|tool` in a copy of the project: the scaffolded services start with the
// mesh, register, and the agent answers its example task with no edits.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestMesh, type TestMesh } from './helpers/local-mesh.js';
import { ROOT, runCommand } from './helpers/processes.js';

describe('agentmesh new agent / new tool', () => {
  let copy: string;
  let home: string;
  let mesh: TestMesh | undefined;

  const cli = (args: string[]) =>
    runCommand(process.execPath, [join(copy, 'devtools/cli/bin.mjs'), ...args], {
      cwd: copy,
      env: { ...process.env, NODE_OPTIONS: '' },
    });

  beforeAll(() => {
    copy = mkdtempSync(join(tmpdir(), 'agentmesh-copy-'));
    home = join(copy, '.agentmesh');
    for (const part of ['mesh', 'services', 'devtools', 'gen', 'package.json', 'tsconfig.json'])
      cpSync(join(ROOT, part), join(copy, part), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
    // A small mesh: the platform services only, then what the test scaffolds.
    const manifest = JSON.parse(readFileSync(join(copy, 'services/local-mesh.json'), 'utf8')) as {
      services: { kind: string }[];
    };
    manifest.services = manifest.services.filter((s) => s.kind === 'auth' || s.kind === 'registry');
    writeFileSync(join(copy, 'services/local-mesh.json'), JSON.stringify(manifest));
  });

  afterAll(async () => {
    await mesh?.stop();
    rmSync(copy, { recursive: true, force: true });
  });

  test('bad names and existing services are refused in one line', async () => {
    expect(await cli(['new', 'agent', 'Demo/Greeter'])).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^agentmesh: "Demo\/Greeter": a service name is namespace\/name/),
    });
    expect(await cli(['new', 'agent', 'agentmesh/registry'])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('already exists'),
    });
    expect(await cli(['new', 'robot', 'demo/x'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('usage: agentmesh new agent'),
    });
  });

  test('the scaffolded agent and tool start with the mesh; the agent answers its example', async () => {
    expect(await cli(['new', 'agent', 'demo/greeter'])).toMatchObject({
      code: 0,
      stdout: expect.stringContaining('services/agents/greeter/main.ts'),
    });
    expect(await cli(['new', 'tool', 'demo/words'])).toMatchObject({ code: 0 });
    expect(existsSync(join(copy, 'services/agents/greeter/policy.json'))).toBe(true);
    const manifest = JSON.parse(readFileSync(join(copy, 'services/local-mesh.json'), 'utf8')) as {
      services: { name: string }[];
    };
    expect(manifest.services.map((s) => s.name)).toEqual([
      'agentmesh/auth',
      'agentmesh/registry',
      'demo/words',
      'demo/greeter',
    ]);

    mesh = await startTestMesh(home, { root: copy });
    const task = await mesh.cli(['task', 'demo/greeter', '--example', '1', '--json']);
    expect(task.code).toBe(0);
    expect(JSON.parse(task.stdout)).toMatchObject({
      status: { state: 'TASK_STATE_COMPLETED' },
      artifacts: [{ parts: [{ data: { greeting: 'Hello, Ada!' } }] }],
    });
    const tools = await mesh.cli(['agents', '--kind', 'tool']);
    expect(tools.stdout).toContain('demo/words@0.1.0');
  }, 150_000);
});
