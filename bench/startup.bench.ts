// How long a microagent takes from process start to SERVING — secrets loaded, tokens obtained,
// its store migrated, registered with the registry, /readyz answering 200 — and how much memory
// it holds once idle: as the container image runs it (the production build, `npm run build`,
// plain node) and as `npm start` runs it (tsx compiling TypeScript at start). The baseline in
// the same run is a bare @grpc/grpc-js server (mTLS only, the same build), timed until it
// listens. Starts alternate between them.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { httpRequest } from '../mesh/security/https-client.js';
import { createLocalMeshFiles, type LocalMeshFiles } from '../test/helpers/local-auth.js';
import { ROOT, startProcess, waitForLog, type ServiceProcess } from '../test/helpers/processes.js';
import { quantile, type BenchModule, type Row } from './harness.js';
import { importMemoryRows } from './import-memory.js';

const client = (id: string, scopes: string[], audiences: string[]) => ({
  client_id: id,
  auth: { method: 'client_secret_basic', secret_path: `agentmesh/clients/${id}` },
  scopes,
  audiences,
});
const rssMb = (pid: number) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
const IDLE_MS = 2_000;
/** A documented Node option (NODE_OPTIONS) that trades collections for memory; measured, not a default. */
const SMALL_YOUNG_GENERATION = '--max-semi-space-size=2';

/** How a service is started: from the production build in `dist` (with extra Node flags), or from the sources with tsx. */
type Runner = { dist: string; flags?: string[] } | 'tsx';

/** Starts `entry` with the tracing preload (as the image and the launcher do) and resolves when `ready()` holds: ms since spawn, idle RSS. */
async function timeStart(
  runner: Runner,
  entry: string,
  env: Record<string, string>,
  ready: (child: ReturnType<typeof spawn>) => Promise<boolean>,
): Promise<{ ms: number; rssMb: number }> {
  const began = performance.now();
  const args =
    runner === 'tsx'
      ? ['--import', 'tsx', '--import', './mesh/telemetry/preload.ts', entry]
      : [
          ...(runner.flags ?? []),
          '--import',
          join(runner.dist, 'mesh/telemetry/preload.js'),
          join(runner.dist, entry.replace(/\.ts$/, '.js')),
        ];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, NODE_OPTIONS: '', ...env },
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    for (const until = began + 30_000; ;) {
      if (child.exitCode !== null) throw new Error(`${entry} exited with ${child.exitCode} before it was ready`);
      if (await ready(child).catch(() => false)) break;
      if (performance.now() > until) throw new Error(`${entry} was not ready within 30 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const ms = performance.now() - began;
    await new Promise((r) => setTimeout(r, IDLE_MS));
    return { ms, rssMb: rssMb(child.pid!) };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

const bench: BenchModule = {
  name: 'startup',
  async run({ quick }) {
    const starts = quick ? 3 : 10;
    const procs: ServiceProcess[] = [];
    let files: LocalMeshFiles | undefined;
    // The production build, made for this run (its packages are the checkout's).
    const dist = mkdtempSync(join(tmpdir(), 'agentmesh-build-'));
    try {
      execFileSync(process.execPath, ['scripts/build.mjs', '--out', dist, '--project', 'bench/tsconfig.build.json'], {
        cwd: ROOT,
        stdio: 'ignore',
      });
      symlinkSync(join(ROOT, 'node_modules'), join(dist, 'node_modules'));
      files = await createLocalMeshFiles([
        client('agentmesh/registry', [], []),
        client(
          'bench/micro',
          ['registry.register', 'registry.read', 'tools.invoke'],
          ['agentmesh/registry', 'bench/micro'],
        ),
      ]);
      for (const id of ['agentmesh/registry', 'bench/micro'])
        files.secrets[`agentmesh/clients/${id}`] = { client_secret: `${id}-secret-0123456789` };
      files.writeSecrets();
      const auth = startProcess(
        'services/auth/main.ts',
        files.serviceEnv('agentmesh/auth', { AGENTMESH_AUTH_CLIENTS_FILE: files.clientsFile }),
      );
      procs.push(auth);
      const issuer = String((await waitForLog(auth, 'authorization server listening')).issuer);
      const registry = startProcess(
        'services/registry/main.ts',
        files.serviceEnv('agentmesh/registry', { AGENTMESH_OAUTH_ISSUER: issuer }),
      );
      procs.push(registry);
      const registryAddress = String((await waitForLog(registry, 'service started')).address);
      const policy = join(files.dir, 'micro.policy.json');
      writeFileSync(
        policy,
        JSON.stringify({
          service: 'bench/micro',
          rules: [
            {
              methods: ['agentmesh.v1.AgentService/*'],
              callers: ['spiffe://{trust_domain}/ns/bench/sa/*'],
              scopes: [],
            },
          ],
        }),
      );
      const port = 40_000 + Math.floor(Math.random() * 20_000);
      const agentEnv = files.serviceEnv('bench/micro', {
        AGENTMESH_OAUTH_ISSUER: issuer,
        AGENTMESH_POLICY_FILE: policy,
        AGENTMESH_REGISTRY_ADDRESS: registryAddress,
        AGENTMESH_ADMIN_PORT: String(port),
        AGENTMESH_LOG_LEVEL: 'warn',
      });
      const bareEnv = { ...files.serviceEnv('bench/micro'), BENCH_VARIANT: 'bare' };
      type Sample = { ms: number; rssMb: number };
      const samples = { built: [] as Sample[], tsx: [] as Sample[], bare: [] as Sample[], small: [] as Sample[] };
      const agentReady = async () =>
        (await httpRequest(`http://127.0.0.1:${port}/readyz`, { timeoutMs: 500 })).status === 200;
      const bareReady = (child: ReturnType<typeof spawn>) =>
        new Promise<boolean>((resolve) => child.once('message', () => resolve(true)));
      const micro = 'bench/fixtures/micro-agent.ts';
      const echo = 'bench/fixtures/echo-agent.ts';
      // The first start from the sources compiles the TypeScript into tsx's cache: measured apart as "cold".
      const cold = await timeStart('tsx', micro, agentEnv, agentReady);
      for (let i = 0; i < starts; i++) {
        samples.built.push(await timeStart({ dist }, micro, agentEnv, agentReady));
        samples.bare.push(await timeStart({ dist }, echo, bareEnv, bareReady));
        samples.tsx.push(await timeStart('tsx', micro, agentEnv, agentReady));
        samples.small.push(await timeStart({ dist, flags: [SMALL_YOUNG_GENERATION] }, micro, agentEnv, agentReady));
      }
      const summary = (xs: Sample[]) => {
        const ms = xs.map((x) => x.ms).sort((a, b) => a - b);
        return {
          p50_ms: quantile(ms, 0.5),
          max_ms: ms.at(-1)!,
          idle_rss_mb: quantile(
            xs.map((x) => x.rssMb).sort((a, b) => a - b),
            0.5,
          ),
        };
      };
      const conditions = { starts, idle_s: IDLE_MS / 1000 };
      const built = summary(samples.built);
      const bare = summary(samples.bare);
      const ready = 'secrets, tokens, store, registered, /readyz 200';
      const rows: Row[] = [
        {
          benchmark: 'startup: microagent to SERVING (production build)',
          conditions: {
            ...conditions,
            runner: 'node dist/ (npm run build), as in the image',
            ready,
            target: '< 1500 ms, < 120 MB',
          },
          metrics: built,
        },
        {
          // V8's young generation grows to 16 MB semi-spaces (more on Node 24) and keeps its pages:
          // capped, an idle process holds less, and allocation-heavy work collects more often.
          benchmark: 'startup: microagent to SERVING (production build, small young generation)',
          conditions: { ...conditions, runner: `node ${SMALL_YOUNG_GENERATION} dist/`, ready },
          metrics: summary(samples.small),
        },
        {
          benchmark: 'startup: microagent to SERVING (npm start)',
          conditions: { ...conditions, runner: 'node --import tsx (compiled at start, cached)', ready },
          metrics: { ...summary(samples.tsx), cold_ms: cold.ms },
        },
        {
          benchmark: 'startup: bare grpc-js server listening',
          conditions: { ...conditions, runner: 'node dist/', ready: 'bound' },
          metrics: bare,
        },
        {
          benchmark: 'startup: ratio microagent/bare (production build)',
          conditions: { starts },
          metrics: {
            start_ratio: built.p50_ms / bare.p50_ms,
            added_ms: built.p50_ms - bare.p50_ms,
            added_rss_mb: built.idle_rss_mb - bare.idle_rss_mb,
          },
        },
        ...importMemoryRows(dist, quick ? 1 : 3),
      ];
      return rows;
    } finally {
      for (const p of procs) p.child.kill('SIGTERM');
      await Promise.all(procs.map((p) => p.exited));
      files?.cleanup();
      rmSync(dist, { recursive: true, force: true });
    }
  },
};

export default bench;
