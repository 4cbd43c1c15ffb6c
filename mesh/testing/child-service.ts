import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, openSync, readSync, watch, type FSWatcher } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
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
 * A service process run by a test mesh. Its output goes to its log file, as
 * under the launcher (a pipe nobody drains any more would block an orphan's
 * logging, and with it its shutdown); the file is followed, so JSON log lines
 * reach waiters as they are written. An IPC channel lets the service exit by
 * itself if the test process dies (see runService).
 */
export class ChildService {
  readonly child: ChildProcess;
  /** Resolves once the process has exited, with its exit code or signal name. */
  readonly exited: Promise<number | string>;
  private output = '';
  private partial = '';
  private offset: number;
  private following = true;
  private readonly decoder = new StringDecoder('utf8');
  private readonly reader: number;
  private readonly watcher: FSWatcher;
  private readonly listeners = new Set<(record: Record<string, unknown>) => void>();
  private readonly records: Record<string, unknown>[] = [];

  constructor(readonly spec: ChildServiceSpec) {
    const { file, nodeArgs } = nodeEntry(spec.entry, { tracing: spec.tracing });
    const out = openSync(spec.logFile, 'a', 0o600);
    // Only what this process writes: a restarted service appends to the same file.
    this.offset = fstatSync(out).size;
    this.reader = openSync(spec.logFile, 'r');
    let child: ChildProcess | undefined;
    try {
      child = spawn(process.execPath, [...nodeArgs, file], {
        cwd: spec.cwd ?? process.cwd(),
        env: { ...inherited(), NODE_OPTIONS: '', ...spec.env },
        stdio: ['ignore', out, out, 'ipc'],
      });
      this.child = child;
      live.add(this);
      this.watcher = watch(spec.logFile, () => this.follow());
    } catch (err) {
      // Nobody holds this object when the constructor throws: the process must not outlive it.
      live.delete(this);
      child?.kill('SIGKILL');
      closeSync(this.reader);
      throw err;
    } finally {
      closeSync(out);
    }
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        live.delete(this);
        this.follow();
        this.following = false;
        this.watcher.close();
        closeSync(this.reader);
        resolve(code ?? signal ?? -1);
      }),
    );
  }

  /** Reads what the process wrote since the last call. */
  private follow(): void {
    if (!this.following) return;
    const size = fstatSync(this.reader).size;
    if (size <= this.offset) return;
    const chunk = Buffer.alloc(size - this.offset);
    this.offset += readSync(this.reader, chunk, 0, chunk.length, this.offset);
    const text = this.decoder.write(chunk);
    this.output = (this.output + text).slice(-KEEP_CHARS);
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
