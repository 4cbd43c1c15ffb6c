// Task-state transitions per second and latency on the embedded store and on PostgreSQL,
// with 1 and 32 concurrent writers. One transition = one compare-and-set update of a task,
// its kept version and a status event, in one transaction: what an agent does per state change.
// On PostgreSQL, `tasks.update` group-commits concurrent transitions; the `own transaction`
// rows run the same change inside `atomically` (BEGIN, the statement, COMMIT: no group
// commit), the way each transition was stored before, as the baseline in the same run.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { TaskState } from '../gen/agentmesh/v1/task.js';
import { loadStateConfig, openStore } from '../mesh/index.js';
import { runLoad, type BenchModule, type BenchOptions, type Row } from './harness.js';
import { measureWrites, WRITES } from './state-writes.js';

const PG_ADMIN_URL = process.env.AGENTMESH_BENCH_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const WRITER_COUNTS = [1, 32];
const OPT_OUT = 'off (opt-in: a server crash may lose acknowledged writes)';
const principal = 'bench';

interface Scenario {
  backend: string;
  env: Record<string, string>;
  conditions: Record<string, string | number>;
  /** Each transition in a transaction of its own (atomically) instead of the group commit. */
  ownTransaction?: boolean;
  /** CPU seconds used so far by the database server's processes of this run, when readable. */
  serverCpuSeconds?: () => Promise<number | undefined>;
}

async function measure(scenario: Scenario, writers: number, options: BenchOptions): Promise<Row> {
  const service = `bench/state-${scenario.backend.replace(/\W/g, '-')}-${writers}`;
  const store = await openStore({ service, config: loadStateConfig(scenario.env) });
  try {
    const versions = new Array<number>(writers).fill(1);
    for (let w = 0; w < writers; w++) {
      await store.tasks.create({ id: `t${w}`, contextId: 'bench', principal });
      versions[w] = (
        await store.tasks.update(`t${w}`, { expectedVersion: 1, state: TaskState.TASK_STATE_WORKING, principal })
      ).version;
    }
    // Each writer moves its own task between WORKING and INPUT_REQUIRED (both legal), so
    // the figures measure the store, not compare-and-set conflicts.
    const transition = async (w: number) => {
      const version = versions[w]!;
      const state = version % 2 === 0 ? TaskState.TASK_STATE_INPUT_REQUIRED : TaskState.TASK_STATE_WORKING;
      const change = { expectedVersion: version, state, principal, events: [{ statusUpdate: { state } }] };
      const task = scenario.ownTransaction
        ? await store.atomically((tx) => tx.tasks.update(`t${w}`, change))
        : await store.tasks.update(`t${w}`, change);
      versions[w] = task.version;
    };
    const { warmUpMs, durationMs } = options.quick
      ? { warmUpMs: 200, durationMs: 1_000 }
      : { warmUpMs: 1_000, durationMs: 5_000 };
    await runLoad(writers, transition, { warmUpMs: 0, durationMs: warmUpMs });
    // CPU per transition, client and server: unlike a rate, it barely moves when other
    // processes load the machine, so it says what the cores could carry on their own.
    const client = process.cpuUsage();
    const server = await scenario.serverCpuSeconds?.();
    const load = await runLoad(writers, transition, { warmUpMs: 0, durationMs });
    const clientUs = process.cpuUsage(client);
    const serverSeconds = server === undefined ? undefined : (await scenario.serverCpuSeconds!())! - server;
    return {
      benchmark: 'state: task transitions',
      conditions: { ...scenario.conditions, writers },
      metrics: {
        transitions_per_s: load.opsPerSecond,
        p50_ms: load.p50Ms,
        p99_ms: load.p99Ms,
        max_ms: load.maxMs,
        client_cpu_us: (clientUs.user + clientUs.system) / load.ops,
        ...(serverSeconds === undefined ? {} : { server_cpu_us: (serverSeconds * 1e6) / load.ops }),
        n: load.ops,
      },
    };
  } finally {
    await store.close();
  }
}

async function postgresDatabase(): Promise<{
  url: string;
  settings: Record<string, string>;
  serverCpuSeconds: () => Promise<number | undefined>;
  drop: () => Promise<void>;
}> {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  const name = `agentmesh_bench_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name} TEMPLATE template0`);
  const show = async (setting: string) => String((await admin.query(`SHOW ${setting}`)).rows[0]?.[setting]);
  const settings = {
    server: `pg${(await show('server_version')).split(' ')[0]}`,
    fsync: await show('fsync'),
    synchronous_commit: await show('synchronous_commit'),
  };
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  // The server's processes serving this database, read from /proc: only when the server runs
  // on this machine and we may read them (else the rows go without server_cpu_us).
  const serverCpuSeconds = async () => {
    const { rows } = await admin.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1', [name]);
    let ticks = 0;
    for (const { pid } of rows) {
      try {
        const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        ticks += Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks (USER_HZ = 100)
      } catch {
        return undefined;
      }
    }
    return ticks / 100;
  };
  return {
    url: url.toString(),
    settings,
    serverCpuSeconds,
    drop: async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

function ratio(rows: Row[], label: string, a: (r: Row) => boolean, b: (r: Row) => boolean): Row[] {
  const x = rows.find(a)?.metrics.transitions_per_s;
  const y = rows.find(b)?.metrics.transitions_per_s;
  if (x === undefined || y === undefined) return [];
  return [
    { benchmark: 'state: ratio (same run)', conditions: { compare: label }, metrics: { throughput_ratio: x / y } },
  ];
}

const bench: BenchModule = {
  name: 'state',
  async run(options) {
    const rows: Row[] = [];
    const dir = mkdtempSync(join(tmpdir(), 'agentmesh-bench-'));
    try {
      for (const sync of ['FULL', 'NORMAL']) {
        const scenario = {
          backend: `sqlite-${sync}`,
          env: { AGENTMESH_DATA_DIR: dir, AGENTMESH_SQLITE_SYNCHRONOUS: sync },
          conditions: { backend: 'sqlite', journal: 'wal', synchronous: sync, dir: tmpdir() },
        };
        for (const writers of WRITER_COUNTS) rows.push(await measure(scenario, writers, options));
        if (sync === 'FULL')
          for (const op of WRITES)
            for (const writers of WRITER_COUNTS) rows.push(await measureWrites(op, writers, scenario, options));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    let database: Awaited<ReturnType<typeof postgresDatabase>> | undefined;
    try {
      database = await postgresDatabase();
    } catch (err) {
      rows.push({
        benchmark: 'state: task transitions',
        conditions: { backend: 'postgres' },
        metrics: {},
        note: `skipped: ${(err as Error).message}`,
      });
    }
    if (database !== undefined) {
      try {
        const pool = 10;
        const host = new URL(PG_ADMIN_URL).host;
        const env = { DATABASE_URL: database.url, AGENTMESH_DB_POOL_MAX: String(pool) };
        const { serverCpuSeconds } = database;
        const conditions = { backend: 'postgres', host, pool, ...database.settings };
        // The opt-in that gives up the commit flush (AGENTMESH_DB_SYNCHRONOUS_COMMIT=off): its own rows.
        const unflushed = {
          backend: 'postgres-unflushed',
          env: { ...env, AGENTMESH_DB_SYNCHRONOUS_COMMIT: 'off' },
          conditions: { ...conditions, synchronous_commit: OPT_OUT },
          serverCpuSeconds,
        };
        for (const writers of WRITER_COUNTS) {
          rows.push(await measure({ backend: 'postgres', env, conditions, serverCpuSeconds }, writers, options));
          rows.push(await measure(unflushed, writers, options));
          rows.push(
            await measure(
              {
                backend: 'postgres-own',
                env,
                conditions: { ...conditions, commit: 'own transaction' },
                ownTransaction: true,
                serverCpuSeconds,
              },
              writers,
              options,
            ),
          );
        }
        for (const op of WRITES)
          for (const writers of WRITER_COUNTS)
            rows.push(
              await measureWrites(op, writers, { backend: 'postgres', env, conditions, serverCpuSeconds }, options),
            );
      } finally {
        await database.drop();
      }
    }

    // sqlite: `variant` is its synchronous pragma; postgres: synchronous_commit (on unless opted out).
    const is = (backend: string, writers: number, variant?: string, commit?: string) => (r: Row) =>
      r.conditions.backend === backend &&
      r.conditions.writers === writers &&
      (backend === 'sqlite'
        ? variant === undefined || r.conditions.synchronous === variant
        : r.conditions.synchronous_commit === (variant ?? 'on') && r.conditions.commit === commit);
    return [
      ...rows,
      ...ratio(rows, 'sqlite FULL: 32 writers / 1 writer', is('sqlite', 32, 'FULL'), is('sqlite', 1, 'FULL')),
      ...ratio(rows, 'sqlite: NORMAL / FULL, 1 writer', is('sqlite', 1, 'NORMAL'), is('sqlite', 1, 'FULL')),
      ...ratio(rows, 'postgres: 32 writers / 1 writer', is('postgres', 32), is('postgres', 1)),
      ...ratio(
        rows,
        'postgres: group commit / own transaction, 32 writers',
        is('postgres', 32),
        is('postgres', 32, undefined, 'own transaction'),
      ),
      ...ratio(
        rows,
        'postgres: group commit / own transaction, 1 writer',
        is('postgres', 1),
        is('postgres', 1, undefined, 'own transaction'),
      ),
      ...ratio(
        rows,
        'postgres: synchronous_commit off (opt-in) / on, 1 writer',
        is('postgres', 1, OPT_OUT),
        is('postgres', 1),
      ),
      ...ratio(
        rows,
        'postgres: synchronous_commit off (opt-in) / on, 32 writers',
        is('postgres', 32, OPT_OUT),
        is('postgres', 32),
      ),
      ...ratio(rows, 'postgres / sqlite FULL, 1 writer', is('postgres', 1), is('sqlite', 1, 'FULL')),
      ...ratio(rows, 'postgres / sqlite FULL, 32 writers', is('postgres', 32), is('sqlite', 32, 'FULL')),
    ];
  },
};

export default bench;
