// What a secured call costs: the same unary GetTask and server-stream StreamTask against three
// server processes run side by side (bench/fixtures/echo-agent.ts): FULL (the service kit:
// mTLS, JWT verification against the real auth service, policy, tracing, metrics, audit,
// access log), SECURITY (mTLS, JWT, policy only) and BARE (@grpc/grpc-js with mTLS only, the
// baseline). Measurement rounds alternate between them (A B C, C B A, ...) so that drift on a
// shared machine hits all alike; the table gives each one's throughput and latency and the
// ratios FULL/BARE (what the mesh costs) and FULL/SECURITY (what observability costs).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import {
  AgentServiceClient,
  AgentServiceService,
  GetTaskRequest,
  GetTaskResponse,
  type StreamTaskRequest,
} from '../gen/agentmesh/v1/agent_service.js';
import { Task } from '../gen/agentmesh/v1/task.js';
import { createClient, type MeshClient } from '../mesh/index.js';
import { spiffeIdOfService } from '../mesh/security/spiffe-id.js';
import { TokenClient } from '../mesh/security/token-client.js';
import { Transport } from '../mesh/security/transport.js';
import { verifyAuditFile } from '../mesh/telemetry/audit.js';
import { requestMessage } from '../mesh/index.js';
import { createLocalMeshFiles, type LocalMeshFiles } from '../test/helpers/local-auth.js';
import { ROOT, startProcess, waitForLog } from '../test/helpers/processes.js';
import { quantile, runLoad, type BenchModule, type LoadResult, type Row } from './harness.js';

const SERVICE = 'bench/echo';
const CLIENT = 'bench/client';
const TRUST_DOMAIN = 'agentmesh.local';
const SCOPES = ['task.read'];
const STREAM_EVENTS = 100;
const VARIANTS = ['full', 'security', 'bare'] as const;
// The full stack with one part left out or changed, to show where its cost goes (measured at 64 in flight).
const ABLATIONS = [
  'full-untraced',
  'full-unexported',
  'full-sampled-10',
  'full-unsampled',
  'full-instrumentation',
  'full-quiet',
  'full-unaudited',
  'full-read-window',
] as const;
type Variant = (typeof VARIANTS)[number] | (typeof ABLATIONS)[number];
const STACKS: Record<Variant, string> = {
  full: 'mTLS + JWT + policy + tracing + metrics + audit + access log',
  'full-untraced': 'full without tracing (no grpc instrumentation, no spans)',
  'full-unexported': 'full, spans recorded but not exported (no trace file)',
  'full-sampled-10': 'full, OTEL_TRACES_SAMPLER=parentbased_traceidratio, ARG 0.1',
  'full-unsampled': 'full, OTEL_TRACES_SAMPLER=always_off (async context kept, no span recorded)',
  'full-instrumentation': "full, gRPC spans by OpenTelemetry's GrpcInstrumentation (AGENTMESH_TRACING_GRPC)",
  'full-quiet': 'full without the access log line (log level silent)',
  'full-unaudited': 'full without the audit record (measurement only: the kit cannot run without it)',
  'full-read-window': 'full, AGENTMESH_AUDIT_READ_WINDOW_MS=5 (GetTask answered before its audit record is durable)',
  security: 'mTLS + JWT + policy',
  bare: '@grpc/grpc-js, mTLS only',
};
type Proc = { child: ChildProcess; exited: Promise<number | string> };

/** One way of calling a server: a unary call, and a stream read to its end (resolves with the events read). */
interface Caller {
  unary(): Promise<void>;
  stream(): Promise<number>;
  close(): void;
}

async function startEcho(
  variant: Variant,
  env: Record<string, string>,
  dir: string,
): Promise<Proc & { address: string; logFile: string }> {
  const logFile = join(dir, `echo-${variant}.log`);
  const out = openSync(logFile, 'a');
  const profileDir = process.env.AGENTMESH_BENCH_CPU_PROF_DIR;
  const nodeArgs = [
    ...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', join(profileDir, variant)] : []),
    '--import',
    'tsx',
    ...(variant.startsWith('full') && variant !== 'full-untraced' ? ['--import', './mesh/telemetry/preload.ts'] : []),
    'bench/fixtures/echo-agent.ts',
  ];
  const child = spawn(process.execPath, nodeArgs, {
    cwd: ROOT,
    env: { ...process.env, NODE_OPTIONS: '', ...env },
    stdio: ['ignore', out, out, 'ipc'],
  });
  closeSync(out);
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`echo-agent (${variant}) did not start within 30 s`)), 30_000);
    child.once(
      'message',
      (m: { address?: string }) => (
        clearTimeout(timer),
        m.address ? resolve(m.address) : reject(new Error('no address'))
      ),
    );
    void exited.then(
      (code) => (
        clearTimeout(timer),
        reject(new Error(`echo-agent (${variant}) exited (${code}): ${readFileSync(logFile, 'utf8').slice(-2000)}`))
      ),
    );
  }).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  return { child, exited, address, logFile };
}

/** SIGTERM (graceful: flushes spans, closes the audit file), SIGKILL if it takes too long. */
async function stop(proc: Proc): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = await Promise.race([
    proc.exited.then(() => false),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(true), 15_000))),
  ]);
  clearTimeout(timer);
  if (late) proc.child.kill('SIGKILL');
  await proc.exited;
}

function meshCaller(
  client: MeshClient<typeof AgentServiceService>,
  request: GetTaskRequest,
  stream: StreamTaskRequest,
): Caller {
  return {
    unary: async () => void (await client.getTask(request)),
    async stream() {
      let n = 0;
      for await (const _ of client.streamTask(stream)) n++;
      return n;
    },
    close: () => client.close(),
  };
}

function bareCaller(
  address: string,
  tls: { ca: Buffer; key: Buffer; cert: Buffer },
  request: GetTaskRequest,
  stream: StreamTaskRequest,
): Caller {
  const client = new AgentServiceClient(address, credentials.createSsl(tls.ca, tls.key, tls.cert));
  return {
    unary: () => new Promise((resolve, reject) => client.getTask(request, (err) => (err ? reject(err) : resolve()))),
    stream: () =>
      new Promise((resolve, reject) => {
        let n = 0;
        client
          .streamTask(stream)
          .on('data', () => n++)
          .on('error', reject)
          .on('end', () => resolve(n));
      }),
    close: () => client.close(),
  };
}

function summarise(results: LoadResult[], perOp: number): Record<string, number> {
  const ops = results.reduce((n, r) => n + r.ops, 0);
  const seconds = results.reduce((s, r) => s + r.ops / r.opsPerSecond, 0);
  const median = (pick: (r: LoadResult) => number) =>
    quantile(
      results.map(pick).sort((a, b) => a - b),
      0.5,
    );
  return { per_s: (ops * perOp) / seconds, p50_ms: median((r) => r.p50Ms), p99_ms: median((r) => r.p99Ms), n: ops };
}

/** CPU time (user + system, every thread) a process has used so far, from /proc (Linux; 0 elsewhere). */
function cpuTimeMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime, fields 14 and 15 of stat(5), in clock ticks of 10 ms.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

const lineCount = (file: string) =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0;

const bench: BenchModule = {
  name: 'secured-call',
  async run({ quick }) {
    const timing = quick ? { warmUpMs: 200, durationMs: 600 } : { warmUpMs: 1_000, durationMs: 4_000 };
    const rounds = quick ? 2 : 4;
    const procs: Proc[] = [];
    const callers: Partial<Record<Variant, Caller>> = {};
    const all = [...VARIANTS, ...ABLATIONS];
    let files: LocalMeshFiles | undefined;
    let transport: Transport | undefined;
    try {
      files = await createLocalMeshFiles([
        {
          client_id: CLIENT,
          auth: { method: 'client_secret_basic', secret_path: `agentmesh/clients/${CLIENT}` },
          scopes: SCOPES,
          audiences: [SERVICE],
        },
        {
          client_id: SERVICE,
          auth: { method: 'client_secret_basic', secret_path: `agentmesh/clients/${SERVICE}` },
          scopes: [],
          audiences: [],
        },
      ]);
      for (const id of [CLIENT, SERVICE])
        files.secrets[`agentmesh/clients/${id}`] = { client_secret: `${id}-secret-0123456789` };
      files.writeSecrets();
      // Tokens live an hour, so no refresh falls inside a measured round.
      const auth = startProcess(
        'services/auth/main.ts',
        files.serviceEnv('agentmesh/auth', {
          AGENTMESH_AUTH_CLIENTS_FILE: files.clientsFile,
          AGENTMESH_AUTH_TOKEN_TTL_S: '3600',
        }),
      );
      procs.push(auth);
      const issuer = String((await waitForLog(auth, 'authorization server listening')).issuer);
      const policyFile = join(files.dir, 'echo.policy.json');
      const methods = ['agentmesh.v1.AgentService/GetTask', 'agentmesh.v1.AgentService/StreamTask'];
      writeFileSync(
        policyFile,
        JSON.stringify({
          service: SERVICE,
          rules: [{ methods, callers: ['spiffe://{trust_domain}/ns/bench/sa/client'], scopes: SCOPES }],
        }),
      );
      const common = {
        ...files.serviceEnv(SERVICE, { AGENTMESH_OAUTH_ISSUER: issuer, AGENTMESH_POLICY_FILE: policyFile }),
        BENCH_STREAM_EVENTS: String(STREAM_EVENTS),
      };
      const kit = (v: Variant, level: string) => {
        mkdirSync(join(files!.dir, `echo-${v}`), { recursive: true, mode: 0o700 });
        return {
          ...common,
          BENCH_VARIANT: 'full',
          AGENTMESH_LOG_LEVEL: level,
          AGENTMESH_DATA_DIR: join(files!.dir, `echo-${v}`),
          AGENTMESH_TRACE_FILE: join(files!.dir, `echo-${v}.traces.jsonl`),
        };
      };
      const dataDir = join(files.dir, 'echo-full');
      const traceFile = join(files.dir, 'echo-full.traces.jsonl');
      const env: Record<Variant, Record<string, string>> = {
        full: kit('full', 'info'),
        'full-untraced': kit('full-untraced', 'info'),
        'full-unexported': { ...kit('full-unexported', 'info'), AGENTMESH_TRACE_FILE: '' },
        'full-sampled-10': {
          ...kit('full-sampled-10', 'info'),
          OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
          OTEL_TRACES_SAMPLER_ARG: '0.1',
        },
        'full-unsampled': { ...kit('full-unsampled', 'info'), OTEL_TRACES_SAMPLER: 'always_off' },
        'full-instrumentation': { ...kit('full-instrumentation', 'info'), AGENTMESH_TRACING_GRPC: 'instrumentation' },
        'full-quiet': kit('full-quiet', 'silent'),
        'full-unaudited': { ...kit('full-unaudited', 'info'), BENCH_NO_AUDIT: '1' },
        'full-read-window': { ...kit('full-read-window', 'info'), AGENTMESH_AUDIT_READ_WINDOW_MS: '5' },
        security: { ...common, BENCH_VARIANT: 'security', AGENTMESH_LOG_LEVEL: 'silent' },
        bare: { ...common, BENCH_VARIANT: 'bare' },
      };
      const servers = {} as Record<Variant, Awaited<ReturnType<typeof startEcho>>>;
      for (const v of all) procs.push((servers[v] = await startEcho(v, env[v], files.dir)));

      const clientEnv = files.serviceEnv(CLIENT);
      const tls = {
        certFile: clientEnv.AGENTMESH_TLS_CERT!,
        keyFile: clientEnv.AGENTMESH_TLS_KEY!,
        caFile: clientEnv.AGENTMESH_TLS_CA!,
      };
      transport = new Transport({ mode: 'mtls', trustDomain: TRUST_DOMAIN, tls });
      const tokens = new TokenClient({
        tokenUrl: `${issuer}/oauth2/token`,
        clientId: CLIENT,
        auth: { method: 'client_secret_basic', secret: `${CLIENT}-secret-0123456789` },
        ca: readFileSync(tls.caFile, 'utf8'),
      });
      await tokens.getToken(SERVICE, SCOPES);
      const request: GetTaskRequest = { taskId: randomUUID(), historyLength: 0 };
      const stream: StreamTaskRequest = {
        requestId: randomUUID(),
        skillId: '',
        message: requestMessage({}, undefined),
      };
      for (const v of all.filter((x) => x !== 'bare')) {
        const client = createClient(AgentServiceService, servers[v].address, {
          credentials: transport.channelCredentials(spiffeIdOfService(TRUST_DOMAIN, SERVICE)),
          metadataHooks: [tokens.metadataHook(SERVICE, SCOPES)],
        });
        callers[v] = meshCaller(client, request, stream);
      }
      callers.bare = bareCaller(
        servers.bare.address,
        { ca: readFileSync(tls.caFile), key: readFileSync(tls.keyFile), cert: readFileSync(tls.certFile) },
        request,
        stream,
      );
      for (const v of all)
        if ((await callers[v]!.stream()) !== STREAM_EVENTS) throw new Error(`${v} streamed the wrong number of events`);
      const payload = `GetTask ${GetTaskRequest.encode(request).finish().length} B -> ${GetTaskResponse.encode({ task: Task.fromPartial({ id: request.taskId, agent: SERVICE }) }).finish().length} B`;

      const measure = async (
        kind: 'unary' | 'stream',
        concurrency: number,
        variants: readonly Variant[] = VARIANTS,
      ): Promise<Row[]> => {
        const op = (v: Variant) =>
          kind === 'unary' ? () => callers[v]!.unary() : async () => void (await callers[v]!.stream());
        // Unmeasured: TLS handshakes, JIT on all sides, JWKS fetched by the secured servers. The
        // breakdown's servers have served nothing yet: they warm up as long as a measured round.
        const warm = variants === VARIANTS ? (quick ? 300 : 1_000) : timing.durationMs;
        for (const v of variants) await runLoad(concurrency, op(v), { warmUpMs: 0, durationMs: warm });
        const results = Object.fromEntries(variants.map((v) => [v, [] as LoadResult[]])) as Record<
          Variant,
          LoadResult[]
        >;
        // The server's CPU time per call: unlike throughput, barely moved by what else the shared machine runs.
        const cpuMs = Object.fromEntries(variants.map((v) => [v, 0])) as Record<Variant, number>;
        for (let round = 0; round < rounds; round++) {
          for (const v of round % 2 === 0 ? variants : [...variants].reverse()) {
            await runLoad(concurrency, op(v), { warmUpMs: 0, durationMs: timing.warmUpMs });
            const before = cpuTimeMs(servers[v].child.pid!);
            results[v].push(await runLoad(concurrency, op(v), { warmUpMs: 0, durationMs: timing.durationMs }));
            cpuMs[v] += cpuTimeMs(servers[v].child.pid!) - before;
          }
        }
        const cpuUs = (v: Variant) => (cpuMs[v] * 1000) / results[v].reduce((n, r) => n + r.ops, 0);
        const perOp = kind === 'unary' ? 1 : STREAM_EVENTS;
        const unit = kind === 'unary' ? 'calls' : 'events';
        const s = Object.fromEntries(variants.map((v) => [v, summarise(results[v], perOp)])) as Record<
          Variant,
          Record<string, number>
        >;
        const conditions = {
          call: kind === 'unary' ? payload : `StreamTask, ${STREAM_EVENTS} events of ${STREAM_EVENTS} per stream`,
          in_flight: concurrency,
          rounds,
          round_s: timing.durationMs / 1000,
        };
        const row = (v: Variant): Row => ({
          benchmark: `secured ${kind}: ${v}`,
          conditions: { ...conditions, stack: STACKS[v] },
          metrics: {
            [`${unit}_per_s`]: s[v]!.per_s!,
            p50_ms: s[v]!.p50_ms!,
            p99_ms: s[v]!.p99_ms!,
            n: s[v]!.n!,
            server_cpu_us_per_call: cpuUs(v),
          },
        });
        const pair = (a: Variant, b: Variant) => {
          const ratios = results[a].map((r, i) => r.opsPerSecond / results[b][i]!.opsPerSecond).sort((x, y) => x - y);
          return {
            throughput_ratio: s[a]!.per_s! / s[b]!.per_s!,
            round_ratio_min: ratios[0]!,
            round_ratio_max: ratios.at(-1)!,
            added_p50_ms: s[a]!.p50_ms! - s[b]!.p50_ms!,
            added_p99_ms: s[a]!.p99_ms! - s[b]!.p99_ms!,
            added_server_cpu_us: cpuUs(a) - cpuUs(b),
          };
        };
        if (variants !== VARIANTS) {
          return variants.map((v) => ({
            ...row(v),
            benchmark: `secured ${kind} breakdown: ${v}`,
            metrics: {
              ...row(v).metrics,
              ratio_to_bare: s[v]!.per_s! / s.bare!.per_s!,
              us_per_call_over_bare: 1e6 / s[v]!.per_s! - 1e6 / s.bare!.per_s!,
              server_cpu_us_over_bare: cpuUs(v) - cpuUs('bare'),
              added_p99_ms: s[v]!.p99_ms! - s.bare!.p99_ms!,
            },
          }));
        }
        return [
          row('full'),
          row('security'),
          row('bare'),
          {
            benchmark: `secured ${kind}: ratio full/bare`,
            conditions: {
              in_flight: concurrency,
              target: concurrency === 64 ? 'throughput >= 0.80' : 'added p99 < 1 ms',
            },
            metrics: pair('full', 'bare'),
          },
          {
            benchmark: `secured ${kind}: ratio full/security (observability)`,
            conditions: { in_flight: concurrency },
            metrics: pair('full', 'security'),
          },
        ];
      };
      const rows: Row[] = [];
      for (const concurrency of [1, 64]) rows.push(...(await measure('unary', concurrency)));
      for (const concurrency of [1, 64]) rows.push(...(await measure('stream', concurrency)));
      rows.push(...(await measure('unary', 64, ['full', ...ABLATIONS, 'security', 'bare'])));
      // The price of a durable audit record before each read's answer, where it shows: 1 in flight.
      rows.push(...(await measure('unary', 1, ['full', 'full-read-window', 'bare'])));

      // What FULL really produced: stop it gracefully (flushes spans), then count.
      for (const v of all) callers[v]!.close();
      await stop(servers.full);
      const audit = verifyAuditFile(join(dataDir, 'audit.jsonl'));
      const accessLines = readFileSync(servers.full.logFile, 'utf8')
        .split('\n')
        .filter((l) => l.includes('"call finished"')).length;
      rows.push({
        benchmark: 'secured: full output check',
        conditions: {
          traces: 'json-lines file (BatchSpanProcessor)',
          log: 'file, info',
          audit: 'fdatasync before each call completes (group commit)',
        },
        metrics: {
          spans_exported: lineCount(traceFile),
          audit_records: audit.records,
          audit_chain_ok: audit.ok ? 1 : 0,
          access_log_lines: accessLines,
        },
      });
      return rows;
    } finally {
      for (const v of all) callers[v]?.close();
      transport?.close();
      await Promise.all(procs.map(stop));
      files?.cleanup();
    }
  },
};

export default bench;
