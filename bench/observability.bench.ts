// What the observability stack costs per call: the same unary GetTask against two server
// processes that differ only in observability. Both run the full security chain (mTLS,
// JWT verification against the real auth service, policy). ON: tracing preload exporting
// spans to a file, the service kit's observability interceptor (metrics, access log line at
// info into a file, audit record with fdatasync). OFF: no preload, no observability
// interceptor, no audit, log level silent. Both servers run side by side and measurement
// rounds alternate between them (ON OFF OFF ON ON OFF...), so drift hits both equally.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentServiceService, GetTaskRequest, GetTaskResponse } from '../gen/agentmesh/v1/agent_service.js';
import { Task } from '../gen/agentmesh/v1/task.js';
import { createClient, type MeshClient } from '../mesh/client/index.js';
import { spiffeIdOfService } from '../mesh/security/spiffe-id.js';
import { TokenClient } from '../mesh/security/token-client.js';
import { Transport } from '../mesh/security/transport.js';
import { verifyAuditFile } from '../mesh/telemetry/audit.js';
import { createLocalMeshFiles, type LocalMeshFiles } from '../test/helpers/local-auth.js';
import { ROOT, startProcess, waitForLog, type ServiceProcess } from '../test/helpers/processes.js';
import { quantile, runLoad, type BenchModule, type LoadResult, type Row } from './harness.js';

const SERVICE = 'bench/echo';
const CLIENT = 'bench/client';
const CLIENT_SECRET = 'bench-client-secret-0123456789';
const TRUST_DOMAIN = 'agentmesh.local';
const SCOPES = ['task.read'];
const CONCURRENCIES = [1, 64];
const VARIANTS = ['on', 'off'] as const;
type Variant = (typeof VARIANTS)[number];
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

/** A running echo-agent process; its stdout (the log) and stderr go to files. */
interface EchoServer {
  variant: Variant;
  child: ChildProcess;
  address: string;
  exited: Promise<number | string>;
  logFile: string;
  errFile: string;
}

async function startEcho(variant: Variant, env: Record<string, string>, dir: string): Promise<EchoServer> {
  const logFile = join(dir, `echo-${variant}.log`);
  const errFile = join(dir, `echo-${variant}.stderr`);
  const out = openSync(logFile, 'a');
  const err = openSync(errFile, 'a');
  const profileDir = process.env.AGENTMESH_BENCH_CPU_PROF_DIR;
  const nodeArgs = [
    ...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', join(profileDir, variant)] : []),
    '--import',
    'tsx',
    ...(variant === 'on' ? ['--import', './mesh/telemetry/preload.ts'] : []),
    'bench/fixtures/echo-agent.ts',
  ];
  const child = spawn(process.execPath, nodeArgs, { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '', ...env }, stdio: ['ignore', out, err, 'ipc'] });
  closeSync(out);
  closeSync(err);
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const server = { variant, child, exited, logFile, errFile, address: '' };
  try {
    server.address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`echo-agent (${variant}) did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      child.once('message', (m: { address?: string }) => {
        clearTimeout(timer);
        if (m.address) resolve(m.address);
        else reject(new Error(`echo-agent (${variant}) sent no address`));
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`echo-agent (${variant}) exited (${code}): ${readFileSync(errFile, 'utf8').slice(-2000)}`));
      });
    });
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return server;
}

/** SIGTERM (graceful: flushes spans, closes the audit file), SIGKILL if it takes too long. */
async function stop(proc: { child: ChildProcess; exited: Promise<number | string> }): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([proc.exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), STOP_TIMEOUT_MS)))]);
  clearTimeout(timer);
  if (timedOut) {
    proc.child.kill('SIGKILL');
    await proc.exited;
  }
}

function summarise(results: LoadResult[]): Record<string, number> {
  const ops = results.reduce((n, r) => n + r.ops, 0);
  const seconds = results.reduce((s, r) => s + r.ops / r.opsPerSecond, 0);
  const rates = results.map((r) => r.opsPerSecond).sort((a, b) => a - b);
  const median = (pick: (r: LoadResult) => number) => quantile(results.map(pick).sort((a, b) => a - b), 0.5);
  return {
    calls_per_s: ops / seconds,
    round_min_per_s: rates[0]!,
    round_max_per_s: rates[rates.length - 1]!,
    p50_ms: median((r) => r.p50Ms),
    p99_ms: median((r) => r.p99Ms),
    n: ops,
  };
}

const lineCount = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0);

const bench: BenchModule = {
  name: 'observability',
  async run({ quick }) {
    const timing = quick ? { warmUpMs: 300, durationMs: 1_500 } : { warmUpMs: 1_000, durationMs: 5_000 };
    const rounds = quick ? 2 : 4;
    const processes: { child: ChildProcess; exited: Promise<number | string> }[] = [];
    let files: LocalMeshFiles | undefined;
    let transport: Transport | undefined;
    const clients: Partial<Record<Variant, MeshClient<typeof AgentServiceService>>> = {};
    const closeClients = () => {
      for (const variant of VARIANTS) clients[variant]?.close();
      for (const variant of VARIANTS) delete clients[variant];
    };
    try {
      files = await createLocalMeshFiles([
        { client_id: CLIENT, auth: { method: 'client_secret_basic', secret_path: `agentmesh/clients/${CLIENT}` }, scopes: SCOPES, audiences: [SERVICE] },
        { client_id: SERVICE, auth: { method: 'client_secret_basic', secret_path: `agentmesh/clients/${SERVICE}` }, scopes: [], audiences: [] },
      ]);
      files.secrets[`agentmesh/clients/${CLIENT}`] = { client_secret: CLIENT_SECRET };
      files.secrets[`agentmesh/clients/${SERVICE}`] = { client_secret: 'bench-echo-secret-0123456789' };
      files.writeSecrets();
      // Tokens live an hour, so no refresh falls inside a measured round.
      const auth: ServiceProcess = startProcess('services/auth/main.ts', files.serviceEnv('agentmesh/auth', { AGENTMESH_AUTH_CLIENTS_FILE: files.clientsFile, AGENTMESH_AUTH_TOKEN_TTL_S: '3600' }));
      processes.push(auth);
      const issuer = String((await waitForLog(auth, 'authorization server listening')).issuer);

      const policyFile = join(files.dir, 'echo.policy.json');
      writeFileSync(policyFile, JSON.stringify({ service: SERVICE, rules: [{ methods: ['agentmesh.v1.AgentService/GetTask'], callers: [`spiffe://{trust_domain}/ns/bench/sa/client`], scopes: SCOPES }] }));
      const common = files.serviceEnv(SERVICE, { AGENTMESH_OAUTH_ISSUER: issuer, AGENTMESH_POLICY_FILE: policyFile });
      const dataDir = join(files.dir, 'data');
      mkdirSync(dataDir, { mode: 0o700 });
      const traceFile = join(files.dir, 'echo-on.traces.jsonl');
      const env: Record<Variant, Record<string, string>> = {
        on: { ...common, BENCH_OBSERVABILITY: 'on', AGENTMESH_LOG_LEVEL: 'info', AGENTMESH_DATA_DIR: dataDir, AGENTMESH_TRACE_FILE: traceFile },
        off: { ...common, BENCH_OBSERVABILITY: 'off', AGENTMESH_LOG_LEVEL: 'silent' },
      };
      const servers = {} as Record<Variant, EchoServer>;
      for (const variant of VARIANTS) {
        servers[variant] = await startEcho(variant, env[variant], files.dir);
        processes.push(servers[variant]);
      }

      const clientEnv = files.serviceEnv(CLIENT);
      transport = new Transport({
        mode: 'mtls',
        trustDomain: TRUST_DOMAIN,
        tls: { certFile: clientEnv.AGENTMESH_TLS_CERT!, keyFile: clientEnv.AGENTMESH_TLS_KEY!, caFile: clientEnv.AGENTMESH_TLS_CA! },
      });
      const tokens = new TokenClient({
        tokenUrl: `${issuer}/oauth2/token`,
        clientId: CLIENT,
        auth: { method: 'client_secret_basic', secret: CLIENT_SECRET },
        ca: readFileSync(clientEnv.AGENTMESH_TLS_CA!, 'utf8'),
      });
      await tokens.getToken(SERVICE, SCOPES);
      for (const variant of VARIANTS) {
        clients[variant] = createClient(AgentServiceService, servers[variant].address, {
          credentials: transport.channelCredentials(spiffeIdOfService(TRUST_DOMAIN, SERVICE)),
          metadataHooks: [tokens.metadataHook(SERVICE, SCOPES)],
        });
      }

      const request: GetTaskRequest = { taskId: randomUUID(), historyLength: 0 };
      const answer = await clients.on!.getTask(request);
      if (answer.task?.id !== request.taskId) throw new Error('echo-agent answered with another task id');
      const payload = `GetTask ${GetTaskRequest.encode(request).finish().length} B -> ${GetTaskResponse.encode({ task: Task.fromPartial({ id: request.taskId, agent: SERVICE }) }).finish().length} B`;
      const calls: Record<Variant, number> = { on: 1, off: 0 };
      const op = (variant: Variant) => async () => {
        await clients[variant]!.getTask(request);
        calls[variant]++;
      };
      // Unmeasured: TLS handshakes, JIT on both sides, JWKS fetched by both servers.
      for (const variant of VARIANTS) await runLoad(64, op(variant), { warmUpMs: 0, durationMs: quick ? 500 : 2_000 });

      const rows: Row[] = [];
      for (const concurrency of CONCURRENCIES) {
        const results: Record<Variant, LoadResult[]> = { on: [], off: [] };
        for (let round = 0; round < rounds; round++) {
          for (const variant of round % 2 === 0 ? VARIANTS : ([...VARIANTS].reverse() as Variant[])) {
            results[variant].push(await runLoad(concurrency, op(variant), timing));
          }
        }
        const conditions = {
          payload,
          transport: 'mtls+jwt+policy',
          concurrency,
          rounds,
          order: 'ON OFF OFF ON…',
          duration_s: timing.durationMs / 1000,
          warm_up_s: timing.warmUpMs / 1000,
        };
        const on = summarise(results.on);
        const off = summarise(results.off);
        rows.push({ benchmark: 'observability: ON', conditions: { ...conditions, audit_dir: tmpdir() }, metrics: on });
        rows.push({ benchmark: 'observability: OFF', conditions, metrics: off });
        const pairRatios = results.on.map((r, i) => r.opsPerSecond / results.off[i]!.opsPerSecond).sort((a, b) => a - b);
        rows.push({
          benchmark: 'observability: ratio ON/OFF (same run)',
          conditions: { concurrency, rounds },
          metrics: {
            throughput_ratio: on.calls_per_s! / off.calls_per_s!,
            round_ratio_min: pairRatios[0]!,
            round_ratio_max: pairRatios[pairRatios.length - 1]!,
            p50_ratio: on.p50_ms! / off.p50_ms!,
            p99_ratio: on.p99_ms! / off.p99_ms!,
            extra_us_per_call: 1e6 / on.calls_per_s! - 1e6 / off.calls_per_s!,
          },
        });
      }

      // What ON really produced: stop it gracefully (flushes spans), then count.
      closeClients();
      await stop(servers.on);
      const audit = verifyAuditFile(join(dataDir, 'audit.jsonl'));
      const accessLines = readFileSync(servers.on.logFile, 'utf8').split('\n').filter((l) => l.includes('"call finished"')).length;
      rows.push({
        benchmark: 'observability: ON output check',
        conditions: { trace_export: 'json-lines file (BatchSpanProcessor)', log: 'file, info', audit: 'fdatasync before each call completes (group commit)' },
        metrics: { calls: calls.on, spans_exported: lineCount(traceFile), audit_records: audit.records, audit_chain_ok: audit.ok ? 1 : 0, access_log_lines: accessLines },
      });
      return rows;
    } finally {
      closeClients();
      transport?.close();
      await Promise.all(processes.map(stop));
      files?.cleanup();
    }
  },
};

export default bench;
