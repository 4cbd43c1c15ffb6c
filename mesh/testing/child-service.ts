import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { nodeEntry } from './service-entry.js';

/** How to start one service process of a test mesh. */
export interface ChildServiceSpec {
  name: string;
  /** Entry file (.js, or .ts run through tsx). */
  entry: string;
  env: Record<string, string>;
  /** Where its output is appended, for people reading a failed test. */
  logFile: string;
  /** Load the telemetry preload first (tracing of gRPC calls). */
  tracing?: boolean;
  cwd?: string;
}

// Enough output to show why a service did not come up, and log lines a test may still ask
// for after startup, bounded for long test runs.
const KEEP_CHARS = 32_768;
const KEEP_RECORDS = 5_000;

// Services still running when the test process exits without stop() (an uncaught error, a
// process.exit): killed on the way out, as their orphan path is not enough when nobody reads their output.
const live = new Set<ChildService>();
process.once('exit', () => {
  for (const service of live) service.child.kill('SIGKILL');
});

/** This process's environment without the mesh and model settings, which would point a test's services elsewhere. */
function inherited(): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(AGENTMESH_|OPENAI_)/.test(k)));
}

/**
 * A service process run by a test mesh: output kept (the tail) and logged to
 * a file, JSON log lines offered to waiters as they arrive, an IPC channel so
 * the service exits by itself if the test process dies (see runService).
 */
export class ChildService {
  readonly child: ChildProcess;
  /** Resolves once the process has exited, with its exit code or signal name. */
  readonly exited: Promise<number | string>;
  private output = '';
  private partial = '';
  private readonly log: WriteStream;
  private readonly listeners = new Set<(record: Record<string, unknown>) => void>();
  private readonly records: Record<string, unknown>[] = [];

  constructor(readonly spec: ChildServiceSpec) {
    const { file, nodeArgs } = nodeEntry(spec.entry, { tracing: spec.tracing });
    this.log = createWriteStream(spec.logFile, { flags: 'a', mode: 0o600 });
    this.child = spawn(process.execPath, [...nodeArgs, file], {
      cwd: spec.cwd ?? process.cwd(),
      env: { ...inherited(), NODE_OPTIONS: '', ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.child.stdout!.on('data', (d: Buffer) => this.take(d.toString(), true));
    this.child.stderr!.on('data', (d: Buffer) => this.take(d.toString(), false));
    live.add(this);
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        live.delete(this);
        this.log.end();
        resolve(code ?? signal ?? -1);
      }),
    );
  }

  private take(text: string, structured: boolean): void {
    this.log.write(text);
    this.output = (this.output + text).slice(-KEEP_CHARS);
    if (!structured) return;
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop()!;
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      this.records.push(record);
      if (this.records.length > KEEP_RECORDS) this.records.shift();
      for (const listener of this.listeners) listener(record);
    }
  }

  /** The last output of the process (stdout and stderr interleaved). */
  tail(): string {
    return this.output;
  }

  /** Whether the process is still running. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the first JSON log line with this `msg`, logged already or to come; rejects (with the output) if the process exits first. */
  waitForLog(msg: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    const seen = this.records.find((r) => r.msg === msg);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const done = () => {
        this.listeners.delete(listener);
        clearTimeout(timer);
      };
      const listener = (record: Record<string, unknown>) => {
        if (record.msg !== msg) return;
        done();
        resolve(record);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.spec.name} logged no "${msg}" within ${timeoutMs} ms:\n${this.tail()}`));
      }, timeoutMs);
      this.listeners.add(listener);
      void this.exited.then((code) => {
        if (!this.listeners.has(listener)) return;
        done();
        reject(new Error(`${this.spec.name} exited (${code}) before "${msg}":\n${this.tail()}`));
      });
    });
  }

  /** Stops the process: SIGTERM (the service drains and deregisters), SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.running) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    await this.exited;
  }
}
