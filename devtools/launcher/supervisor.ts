import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';

/** A process the supervisor runs. */
export interface ProcessSpec {
  name: string;
  /** The TypeScript entry point, relative to the root. */
  entry: string;
  env: Record<string, string>;
  /** Node flags before the entry point (AGENTMESH_SERVICE_NODE_ARGS, e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** Where stdout and stderr go (appended). */
  logFile: string;
  /** Resolves true once the process serves (health SERVING, startup work done). */
  ready(): Promise<boolean>;
}

/** What the supervisor reports while it works. */
export type SupervisorEvent =
  | { type: 'started'; name: string; pid: number; attempt: number }
  | { type: 'ready'; name: string; ms: number }
  | { type: 'exited'; name: string; code: number | null; signal: string | null; restartInMs: number | undefined }
  | { type: 'gave-up'; name: string; reason: string };

interface Running {
  spec: ProcessSpec;
  child: ChildProcess;
  exited: Promise<void>;
  restarts: number;
  startedAt: number;
}

// A process exiting with 78 (EX_CONFIG) has bad configuration: restarting cannot help.
const CONFIG_ERROR = 78;
const MAX_BACKOFF_MS = 30_000;

/** The last lines of a log file, to show why a process did not come up. */
export function tail(file: string, lines = 15): string {
  try {
    const size = statSync(file).size;
    const text = readFileSync(file, 'utf8').slice(Math.max(0, size - 16_384));
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * Runs the services of the local mesh as child processes, started in the
 * order the caller asks (each start resolves once the process is ready), restarts
 * a crashed one with exponential backoff, and stops all of them in reverse
 * order on stop() — SIGTERM first (the kernel drains), SIGKILL after the grace.
 */
export class Supervisor {
  private readonly running = new Map<string, Running>();
  private stopping = false;

  constructor(
    private readonly root: string,
    private readonly report: (e: SupervisorEvent) => void,
  ) {}

  private spawn(spec: ProcessSpec, restarts: number): Running {
    const out = openSync(spec.logFile, 'a', 0o600);
    // Each service in its own process group: a Ctrl-C at the terminal reaches only the launcher,
    // which stops the services in order (they would otherwise get it too, then its SIGTERM as a
    // second signal, and exit without draining). The IPC channel tells a service when the
    // launcher is gone, even after a SIGKILL, so none is left behind (see runService).
    const args = [...(spec.nodeArgs ?? []), '--import', 'tsx', '--import', './mesh/telemetry/preload.ts', spec.entry];
    const child = spawn(process.execPath, args, {
      cwd: this.root,
      env: { ...process.env, NODE_OPTIONS: '', ...spec.env },
      stdio: ['ignore', out, out, 'ipc'],
      detached: true,
    });
    closeSync(out);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const entry: Running = { spec, child, exited, restarts, startedAt: Date.now() };
    this.running.set(spec.name, entry);
    this.report({ type: 'started', name: spec.name, pid: child.pid ?? 0, attempt: restarts + 1 });
    child.once('exit', (code, signal) => this.onExit(entry, code, signal));
    return entry;
  }

  private onExit(entry: Running, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopping || this.running.get(entry.spec.name) !== entry) return;
    if (code === CONFIG_ERROR) {
      this.running.delete(entry.spec.name);
      this.report({ type: 'exited', name: entry.spec.name, code, signal, restartInMs: undefined });
      this.report({
        type: 'gave-up',
        name: entry.spec.name,
        reason: `configuration error (exit 78): ${tail(entry.spec.logFile, 3)}`,
      });
      return;
    }
    // A process that ran a minute before crashing starts the backoff over.
    const restarts = Date.now() - entry.startedAt > 60_000 ? 0 : entry.restarts + 1;
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.max(0, restarts - 1));
    this.report({ type: 'exited', name: entry.spec.name, code, signal, restartInMs: delay });
    setTimeout(() => {
      if (!this.stopping) this.spawn(entry.spec, restarts);
    }, delay).unref();
  }

  /** Starts a process and waits until it is ready; rejects (with its last log lines) when it exits first, takes too long or `signal` aborts. */
  async start(spec: ProcessSpec, timeoutMs = 60_000, signal?: AbortSignal): Promise<void> {
    const began = Date.now();
    const entry = this.spawn(spec, 0);
    let gone = false;
    void entry.exited.then(() => (gone = true));
    while (Date.now() - began < timeoutMs) {
      signal?.throwIfAborted();
      if (gone)
        throw new Error(
          `${spec.name} exited before it was ready (exit ${entry.child.exitCode ?? entry.child.signalCode}); last lines of ${spec.logFile}:\n${tail(spec.logFile)}`,
        );
      if (await spec.ready().catch(() => false)) {
        this.report({ type: 'ready', name: spec.name, ms: Date.now() - began });
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(
      `${spec.name} was not ready within ${timeoutMs} ms; last lines of ${spec.logFile}:\n${tail(spec.logFile)}`,
    );
  }

  /** The pid of a running service (for tests and status). */
  pid(name: string): number | undefined {
    return this.running.get(name)?.child.pid;
  }

  /** Stops every process, last started first; resolves when all have exited. */
  async stop(graceMs = 15_000): Promise<void> {
    this.stopping = true;
    for (const entry of [...this.running.values()].reverse()) {
      if (entry.child.exitCode === null && entry.child.signalCode === null) {
        entry.child.kill('SIGTERM');
        const timer = setTimeout(() => entry.child.kill('SIGKILL'), graceMs);
        await entry.exited;
        clearTimeout(timer);
      }
    }
    this.running.clear();
  }
}
