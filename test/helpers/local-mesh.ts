import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MeshFile } from '../../devtools/launcher/launcher.js';
import { ROOT, runCommand, startProcess, type CommandResult, type ServiceProcess } from './processes.js';

/** A local mesh started the way `npm start` starts it, in its own folder and port block. */
export interface LocalMesh {
  launcher: ServiceProcess;
  home: string;
  file: MeshFile;
  /** Runs the agentmesh CLI (bin) against this mesh; resolves with its output and exit code. */
  cli(args: string[], options?: { user?: string }): Promise<CommandResult>;
  /** Stops the launcher (SIGTERM: every service stops gracefully) unless it has exited; resolves once it has. */
  stop(): Promise<void>;
}

/** Stops the launcher (SIGTERM: it stops every service gracefully) unless it has exited; resolves once it has. */
async function stopLauncher(launcher: ServiceProcess): Promise<void> {
  if (launcher.child.exitCode === null && launcher.child.signalCode === null) launcher.child.kill('SIGTERM');
  await launcher.exited;
}

/** A random port block (multiple of 100) away from the per-checkout defaults of people's meshes. */
const randomBlock = () => 40_000 + Math.floor(Math.random() * 200) * 100;

/** Starts devtools/launcher/start.ts (what `npm start` runs, `args` its flags) with AGENTMESH_HOME=home and waits for mesh.json. */
export async function startLocalMesh(
  home: string,
  options: { root?: string; env?: Record<string, string>; timeoutMs?: number; args?: string[] } = {},
): Promise<LocalMesh> {
  const root = options.root ?? ROOT;
  for (let attempt = 1; ; attempt++) {
    const env = {
      AGENTMESH_HOME: home,
      AGENTMESH_BASE_PORT: String(randomBlock()),
      AGENTMESH_LOG_LEVEL: 'info',
      ...options.env,
    };
    const launcher = startProcess(join(root, 'devtools/launcher/start.ts'), env, { args: options.args });
    const meshFile = join(home, 'mesh.json');
    const until = Date.now() + (options.timeoutMs ?? 90_000);
    while (Date.now() < until && !existsSync(meshFile) && launcher.child.exitCode === null)
      await new Promise((r) => setTimeout(r, 200));
    // mesh.json is written before the launcher prints what runs: wait for its last line too (or its exit).
    while (
      Date.now() < until &&
      existsSync(meshFile) &&
      !launcher.stdout().includes('stop: Ctrl-C') &&
      launcher.child.exitCode === null
    )
      await new Promise((r) => setTimeout(r, 200));
    if (existsSync(meshFile)) {
      const file = JSON.parse(readFileSync(meshFile, 'utf8')) as MeshFile;
      const cli = (args: string[], o: { user?: string } = {}) =>
        runCommand(process.execPath, [join(root, 'devtools/cli/bin.mjs'), ...args], {
          cwd: root,
          env: { ...process.env, NODE_OPTIONS: '', AGENTMESH_HOME: home, AGENTMESH_USER: o.user ?? 'alice' },
          timeout: 120_000,
        });
      return { launcher, home, file, cli, stop: () => stopLauncher(launcher) };
    }
    await stopLauncher(launcher);
    // Another program may hold a port of the random block, found at the launcher's check or, as
    // the block lies in the ephemeral range, taken by some connection just before a service
    // bound it: try another block.
    if (attempt >= 3 || !/is in use|EADDRINUSE/.test(launcher.stderr())) {
      throw new Error(`the mesh did not start:\n${launcher.stdout()}\n${launcher.stderr()}`);
    }
  }
}

/** The pids a service process logged (pino adds pid to every line), last one first. */
export function pidsOf(logFile: string): number[] {
  const pids = readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => (JSON.parse(l) as { pid?: number }).pid)
    .filter((p): p is number => typeof p === 'number');
  return [...new Set(pids)].reverse();
}

/** Whether a process is alive. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
