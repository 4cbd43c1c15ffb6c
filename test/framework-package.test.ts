// The framework as a team installs it: the project is built and packed (npm pack, as prepack
// does), the tarball is unpacked into a fresh project's node_modules, and `import ... from
// 'agentmesh'` there loads the built JavaScript and type-checks against the shipped declarations.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, runCommand } from './helpers/processes.js';

interface PackResult {
  filename: string;
  files: { path: string }[];
}

describe('the agentmesh package', () => {
  let dir: string;
  let files: string[];
  let app: string;
  const env = { ...process.env, NODE_OPTIONS: '' };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agentmesh-pack-'));
    const pkg = join(dir, 'pkg');
    mkdirSync(pkg);
    for (const part of ['package.json', 'README.md', 'proto'])
      cpSync(join(ROOT, part), join(pkg, part), { recursive: true });
    const build = await runCommand(process.execPath, ['scripts/build.mjs', '--out', join(pkg, 'dist')], {
      cwd: ROOT,
      env,
    });
    expect(build).toMatchObject({ code: 0 });
    // The build already ran; --ignore-scripts keeps prepack from building again into the copy.
    const pack = await runCommand('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
      cwd: pkg,
      env,
    });
    expect(pack).toMatchObject({ code: 0 });
    const [result] = JSON.parse(pack.stdout) as PackResult[];
    files = result!.files.map((f) => f.path);

    // A fresh project: the tarball unpacked as node_modules/agentmesh, the dependencies linked.
    app = join(dir, 'app');
    const modules = join(app, 'node_modules');
    mkdirSync(join(modules, 'agentmesh'), { recursive: true });
    const untar = await runCommand('tar', [
      '-xzf',
      join(dir, result!.filename),
      '-C',
      join(modules, 'agentmesh'),
      '--strip-components=1',
    ]);
    expect(untar).toMatchObject({ code: 0 });
    for (const name of readdirSync(join(ROOT, 'node_modules'))) {
      if (name !== '.bin' && name !== 'agentmesh') symlinkSync(join(ROOT, 'node_modules', name), join(modules, name));
    }
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'team-agent', type: 'module', private: true }));
  }, 180_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('the tarball holds the built framework with declarations, the protos and the CLI, and no tests or sources', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'dist/mesh/index.js',
        'dist/mesh/index.d.ts',
        'dist/mesh/runtime/run-agent.d.ts',
        'dist/gen/agentmesh/v1/agent_service.js',
        'dist/gen/descriptors.binpb',
        'dist/devtools/cli/bin.mjs',
        'proto/agentmesh/v1/agent_service.proto',
      ]),
    );
    expect(files.filter((f) => /\.test\.|(^|\/)test\//.test(f))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    expect(files.filter((f) => f.startsWith('dist/services/agents') || f.startsWith('dist/services/console'))).toEqual(
      [],
    );
  });

  test("import from 'agentmesh' loads the built framework under plain node", async () => {
    writeFileSync(
      join(app, 'main.mjs'),
      `import { runAgent, runToolService, compileAgentOptions, defaultAgentPolicy } from 'agentmesh';
import pkg from 'agentmesh/package.json' with { type: 'json' };
import { TaskState } from 'agentmesh/v1/task.js';
import { AgentServiceService } from 'agentmesh/v1/agent_service.js';
const compiled = compileAgentOptions('team/agent', { taskTimeoutMs: 5000 }, { AGENTMESH_DATA_DIR: 'data' });
console.log(JSON.stringify({
  runAgent: typeof runAgent,
  runToolService: typeof runToolService,
  policy: compiled.service.policySource,
  timeout: compiled.taskTimeoutMs,
  rules: defaultAgentPolicy('team/agent').rules.length,
  name: pkg.name,
  completed: TaskState[TaskState.TASK_STATE_COMPLETED],
  sendTask: AgentServiceService.sendTask.path,
}));
`,
    );
    const run = await runCommand(process.execPath, ['main.mjs'], { cwd: app, env });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({
      runAgent: 'function',
      runToolService: 'function',
      policy: 'built-in default',
      timeout: 5000,
      rules: 3,
      name: 'agentmesh',
      completed: 'TASK_STATE_COMPLETED',
      sendTask: '/agentmesh.v1.AgentService/SendTask',
    });
  });

  test("a team's TypeScript type-checks against the shipped declarations, and a wrong option does not", async () => {
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
        },
      }),
    );
    writeFileSync(
      join(app, 'good.ts'),
      `import { runAgent, type AgentDefinition } from 'agentmesh';
import { TaskState, type Task } from 'agentmesh/v1/task.js';
export const done = (t: Task): boolean => t.status?.state === TaskState.TASK_STATE_COMPLETED;
const def: AgentDefinition = { card: { name: 'team/agent', version: '1.0.0', purpose: 'p' }, taskTimeoutMs: 60_000 };
export const start = () => runAgent(def);
`,
    );
    writeFileSync(
      join(app, 'bad.ts'),
      `import { runAgent } from 'agentmesh';\nexport const start = () => runAgent({ card: { name: 'a/b', version: '1', purpose: 'p' }, taskTimeoutMs: 'soon' });\n`,
    );
    const tsc = await runCommand(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', '.'], { cwd: app, env });
    const errors = tsc.stdout.split('\n').filter((line) => /error TS/.test(line));
    expect(errors).toEqual([expect.stringMatching(/^bad\.ts.*'string' is not assignable to type 'number'/)]);
  }, 60_000);

  test('the packaged CLI runs from node_modules', async () => {
    const run = await runCommand(
      process.execPath,
      [join(app, 'node_modules/agentmesh/dist/devtools/cli/bin.mjs'), '--help'],
      {
        cwd: app,
        env,
      },
    );
    expect(run.stdout + run.stderr).toContain('usage: agentmesh');
  });
});
