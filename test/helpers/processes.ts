import { execFile, spawn, type ChildProcessWithoutNullStreams, type ExecFileOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A child process running a TypeScript entry point, with its output collected. */
export interface ServiceProcess {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  exited: Promise<number | string>;
}

/** What a finished command printed and its exit code (-1 when it was killed, e.g. at the timeout). */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end and resolves with its output and exit code, also when it fails. */
export async function runCommand(file: string, args: string[], options: ExecFileOptions = {}): Promise<CommandResult> {
  try {
    const { stdout, stderr } = await promisify(execFile)(file, args, { encoding: 'utf8', ...options });
    return { code: 0, stdout: String(stdout), stderr: String(stderr) };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Starts `node --import tsx [--import preload] <entry>` with the given environment added to this one. */
export function startProcess(
  entry: string,
  env: Record<string, string> = {},
  options: { tracing?: boolean; args?: string[] } = {},
): ServiceProcess {
  const preload = options.tracing ? ['--import', './mesh/telemetry/preload.ts'] : [];
  const child = spawn(process.execPath, ['--import', 'tsx', ...preload, entry, ...(options.args ?? [])], {
    cwd: ROOT,
    env: { ...process.env, NODE_OPTIONS: '', ...env },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Waits for a JSON log line with the given msg on stdout and returns it. */
export async function waitForLog(
  proc: ServiceProcess,
  msg: string,
  // A bound for a process that will never log it, not a speed expectation: loaded machines start slowly.
  timeoutMs = 60_000,
): Promise<Record<string, unknown>> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    for (const line of proc.stdout().split('\n')) {
      if (!line.startsWith('{')) continue;
      const record = JSON.parse(line) as Record<string, unknown>;
      if (record.msg === msg) return record;
    }
    if (proc.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no "${msg}" log line; stdout:\n${proc.stdout()}\nstderr:\n${proc.stderr()}`);
}
