// AGENTMESH_SERVICE_NODE_ARGS through the real launcher (`npm start`): every service process it
// starts runs with the flags (here --cpu-prof, what the task benchmark profiles with), and a
// value Node would refuse stops the launcher with one line before any service starts.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive, pidsOf, startLocalMesh } from './helpers/local-mesh.js';
import { ROOT, startProcess } from './helpers/processes.js';

describe('Node flags for the services of the local mesh', () => {
  const dirs: string[] = [];
  const dir = (prefix: string) => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('every service runs with them: each writes its CPU profile when the mesh stops', async () => {
    const home = dir('agentmesh-node-args-');
    const profiles = dir('agentmesh-node-args-prof-');
    const mesh = await startLocalMesh(home, {
      env: { AGENTMESH_SERVICE_NODE_ARGS: `--cpu-prof --cpu-prof-dir=${profiles}` },
      // A bound for a mesh that will never start, not a speed expectation: profiled services start slower.
      timeoutMs: 240_000,
    });
    const pids = mesh.file.services.map((s) => pidsOf(s.log)[0]!);
    try {
      for (const pid of pids) expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain('--cpu-prof');
    } finally {
      await mesh.stop();
    }
    expect(pids.some(alive)).toBe(false);
    const written = readdirSync(profiles);
    for (const pid of pids)
      expect(written.filter((f) => f.includes(`.${pid}.`) && f.endsWith('.cpuprofile'))).toHaveLength(1);
  }, 360_000);

  test('a flag Node refuses stops the launcher with one line, before anything starts', async () => {
    const home = dir('agentmesh-node-args-bad-');
    const launcher = startProcess(join(ROOT, 'devtools/launcher/start.ts'), {
      AGENTMESH_HOME: home,
      AGENTMESH_BASE_PORT: String(40_000 + Math.floor(Math.random() * 200) * 100),
      AGENTMESH_SERVICE_NODE_ARGS: '--cpu-prof --no-such-flag',
    });
    expect(await launcher.exited).toBe(2);
    expect(launcher.stderr()).toBe(
      'agentmesh: AGENTMESH_SERVICE_NODE_ARGS: refused by Node: bad option: --no-such-flag\n',
    );
    expect(existsSync(join(home, 'logs'))).toBe(false);
  }, 60_000);
});
