// How the launcher ends in the ways people and supervisors end it: a signal while the
// services are still starting, and the launcher itself killed outright (SIGKILL, which it
// cannot catch): in both cases no service of the mesh is left running.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive, pidsOf, startLocalMesh } from './helpers/local-mesh.js';
import { ROOT, startProcess, type ServiceProcess } from './helpers/processes.js';

// Other processes are watched by polling, until what is awaited is so, however long the machine
// takes: each test's own timeout is the bound.
const gone = async (pids: number[]) => {
  while (pids.some(alive)) await new Promise((r) => setTimeout(r, 100));
};
const logPids = (home: string) =>
  existsSync(join(home, 'logs')) ? readdirSync(join(home, 'logs')).flatMap((f) => pidsOf(join(home, 'logs', f))) : [];

describe('the launcher leaves no process behind', () => {
  const homes: string[] = [];
  const launchers: ServiceProcess[] = [];
  const home = () => {
    const dir = mkdtempSync(join(tmpdir(), 'agentmesh-signals-'));
    homes.push(dir);
    return dir;
  };
  afterAll(() => {
    // Whatever a failed test left running goes too (else jest waits for it).
    for (const l of launchers) l.child.kill('SIGKILL');
    for (const dir of homes) {
      for (const pid of logPids(dir)) if (alive(pid)) process.kill(pid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('SIGTERM while the services start stops those already started and exits 0', async () => {
    const dir = home();
    const launcher = startProcess(join(ROOT, 'devtools/launcher/start.ts'), {
      AGENTMESH_HOME: dir,
      AGENTMESH_BASE_PORT: String(40_000 + Math.floor(Math.random() * 200) * 100),
    });
    launchers.push(launcher);
    while (!launcher.stdout().includes('agentmesh/registry ready') && launcher.child.exitCode === null)
      await new Promise((r) => setTimeout(r, 50));
    expect(launcher.stdout()).toContain('agentmesh/registry ready');
    launcher.child.kill('SIGTERM');
    expect(await launcher.exited).toBe(0);
    expect(launcher.stdout()).toContain('stopped what had started');
    const started = logPids(dir);
    expect(started.length).toBeGreaterThanOrEqual(2);
    await gone(started);
    expect(existsSync(join(dir, 'mesh.json'))).toBe(false);
  }, 180_000);

  test('a launcher killed with SIGKILL takes its services with it: each stops on its own, draining', async () => {
    const dir = home();
    const mesh = await startLocalMesh(dir);
    launchers.push(mesh.launcher);
    // The running process of each service: the last pid its log names (an earlier start on a
    // port block that was taken may have left others, already gone).
    const pids = mesh.file.services.map((s) => pidsOf(s.log)[0]!);
    expect(pids.every(alive)).toBe(true);
    mesh.launcher.child.kill('SIGKILL');
    await mesh.launcher.exited;
    await gone(pids);
    for (const s of mesh.file.services)
      expect(readFileSync(s.log, 'utf8')).toContain('the supervisor is gone: stopping');
  }, 240_000);
});
