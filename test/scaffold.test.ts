// `agentmesh new agent|tool` in a copy of the project: the scaffolded services start with the
// mesh, register, and the agent answers its example task (its playbook calls its tool) with no
// edits; the manifest keeps its formatting and istio/ stays current without another command.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diffRendered, loadRenderConfig, renderIstio } from '../devtools/istio-render/index.js';
import { startLocalMesh, type LocalMesh } from './helpers/local-mesh.js';
import { ROOT, runCommand } from './helpers/processes.js';
import { platformManifest } from './helpers/platform-manifest.js';

describe('agentmesh new agent / new tool', () => {
  let copy: string;
  let home: string;
  let mesh: LocalMesh | undefined;
  let manifestBefore: string;

  const cli = (args: string[]) =>
    runCommand(process.execPath, [join(copy, 'devtools/cli/bin.mjs'), ...args], {
      cwd: copy,
      env: { ...process.env, NODE_OPTIONS: '' },
    });

  beforeAll(() => {
    copy = mkdtempSync(join(tmpdir(), 'agentmesh-copy-'));
    home = join(copy, '.agentmesh');
    for (const part of [
      'mesh',
      'services',
      'devtools',
      'gen',
      'istio',
      'package.json',
      'tsconfig.json',
      '.prettierrc.json',
    ])
      cpSync(join(ROOT, part), join(copy, part), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
    // A small mesh: the platform services only, then what the test scaffolds. The file keeps the
    // repository's layout (one service per line), which the scaffold must preserve.
    manifestBefore = platformManifest(readFileSync(join(copy, 'services/local-mesh.json'), 'utf8'));
    writeFileSync(join(copy, 'services/local-mesh.json'), manifestBefore);
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
    expect(await cli(['new', 'agent', 'demo/x', '--framework', '1.0.0'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--framework goes with --dir'),
    });
  });

  test('the scaffolded agent and tool start with the mesh; the agent answers its example through its tool', async () => {
    expect(await cli(['new', 'agent', 'demo/triage'])).toMatchObject({
      code: 0,
      stdout: expect.stringContaining('services/agents/triage/main.ts'),
    });
    expect(await cli(['new', 'tool', 'demo/words'])).toMatchObject({ code: 0 });
    expect(existsSync(join(copy, 'services/agents/triage/policy.json'))).toBe(true);

    // One line added per service, everything else of the file as it was.
    const manifest = readFileSync(join(copy, 'services/local-mesh.json'), 'utf8');
    const added = manifest.split('\n').filter((l) => !manifestBefore.split('\n').includes(l));
    expect(added).toEqual([
      '    { "name": "agentmesh/registry", "kind": "registry", "entry": "services/registry/main.ts" },',
      '    { "name": "demo/words", "kind": "tool", "entry": "services/tools/words/main.ts" },',
      '    { "name": "demo/triage", "kind": "agent", "entry": "services/agents/triage/main.ts" }',
    ]);
    expect(manifest).toContain('"$comment"');
    // What npm run lint checks: the generated code and the manifest are formatted.
    const prettier = await runCommand(
      join(copy, 'node_modules/.bin/prettier'),
      ['--check', 'services/local-mesh.json', 'services/agents/triage', 'services/tools/words'],
      { cwd: copy },
    );
    expect(prettier).toMatchObject({ code: 0 });
    // The Istio manifests were re-rendered: istio-manifests.test.ts stays green with no other command.
    const rendered = renderIstio(copy, loadRenderConfig(join(copy, 'istio/render-config.json')));
    expect(rendered.services.map((s) => s.name)).toEqual(expect.arrayContaining(['demo/triage', 'demo/words']));
    expect(diffRendered(rendered, join(copy, 'istio/base'))).toEqual([]);

    mesh = await startLocalMesh(home, { root: copy });
    const task = await mesh.cli(['task', 'demo/triage', '--example', '1', '--json']);
    expect(task.code).toBe(0);
    expect(JSON.parse(task.stdout)).toMatchObject({
      status: { state: 'TASK_STATE_COMPLETED' },
      artifacts: [{ parts: [{ data: { queue: 'technical', urgency: 'high' } }] }],
    });
    const tools = await mesh.cli(['agents', '--kind', 'tool']);
    expect(tools.stdout).toContain('demo/words@0.1.0');
  }, 150_000);
});
