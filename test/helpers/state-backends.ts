import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { loadStateConfig, openStore, sqlitePath, type StateConfig, type Store } from '../../mesh/index.js';

/** The server the tests create their databases on (trust auth, as on the dev and CI machines). */
export const PG_ADMIN_URL = process.env.AGENTMESH_TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

/** One backend under test: a private database or directory, removed by cleanup(). */
export interface BackendFixture {
  kind: 'sqlite' | 'postgres';
  /** Environment that points a process (this one or a child) at the private store. */
  env: Record<string, string>;
  config(extra?: Record<string, string>): StateConfig;
  open(service: string, extra?: Record<string, string>): Promise<Store>;
  /** Runs SQL directly in a service's database, bypassing the store (to inspect it or stage broken states). */
  sql(service: string, statement: string): Promise<Record<string, unknown>[]>;
  cleanup(): Promise<void>;
}

function fixture(
  kind: BackendFixture['kind'],
  env: Record<string, string>,
  sql: BackendFixture['sql'],
  cleanup: () => Promise<void>,
): BackendFixture {
  const config = (extra: Record<string, string> = {}) => loadStateConfig({ ...env, ...extra });
  return { kind, env, config, open: (service, extra) => openStore({ service, config: config(extra) }), sql, cleanup };
}

/** An embedded store in a fresh temporary directory. */
export async function sqliteFixture(): Promise<BackendFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'agentmesh-state-'));
  const env = { AGENTMESH_DATA_DIR: dir };
  return fixture(
    'sqlite',
    env,
    async (service, statement) => {
      const db = new Database(sqlitePath(service, loadStateConfig(env)));
      try {
        const prepared = db.prepare(statement);
        if (prepared.reader) return prepared.all() as Record<string, unknown>[];
        prepared.run();
        return [];
      } finally {
        db.close();
      }
    },
    async () => rmSync(dir, { recursive: true, force: true }),
  );
}

/**
 * A PostgreSQL store in a database of its own (agentmesh_test_<random>), dropped by cleanup,
 * so concurrent runs never see each other. Unless `holdServer` is false, the fixture holds a
 * shared advisory lock so that a test restarting the server waits for it to finish.
 */
export async function postgresFixture({ holdServer = true } = {}): Promise<BackendFixture> {
  const name = `agentmesh_test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE template0`));
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  const hold = holdServer ? await holdLock('shared') : undefined;
  return fixture(
    'postgres',
    { DATABASE_URL: url.toString() },
    async (service, statement) => {
      const client = new pg.Client({ connectionString: url.toString(), options: `-c search_path="${service}"` });
      await client.connect();
      try {
        return (await client.query(statement)).rows as Record<string, unknown>[];
      } finally {
        await client.end();
      }
    },
    async () => {
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      await hold?.end().catch(() => undefined);
    },
  );
}

/** Both backends, for describe.each: the same suite runs on each. */
export const BACKENDS: [string, () => Promise<BackendFixture>][] = [
  ['sqlite', sqliteFixture],
  ['postgres', () => postgresFixture()],
];

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const RESTART_LOCK = 4_242_001;

// Advisory locks live on the server, so they coordinate jest workers and concurrent runs.
// A restart kills sessions waiting for the lock; waiting again after it is the point.
async function holdLock(mode: 'shared' | 'exclusive'): Promise<pg.Client> {
  const until = Date.now() + 60_000;
  for (;;) {
    const client = new pg.Client({ connectionString: PG_ADMIN_URL });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query(mode === 'shared' ? 'SELECT pg_advisory_lock_shared($1)' : 'SELECT pg_advisory_lock($1)', [
        RESTART_LOCK,
      ]);
      return client;
    } catch (err) {
      await client.end().catch(() => undefined);
      if (Date.now() > until) throw err;
      await sleep(250);
    }
  }
}

/** Restarts the local PostgreSQL cluster (as root) once no other test holds it, and waits until it accepts connections. */
export async function restartPostgres(): Promise<void> {
  const lock = await holdLock('exclusive');
  const run = promisify(execFile);
  const version = readdirSync('/etc/postgresql')[0];
  if (version === undefined) throw new Error('no PostgreSQL cluster under /etc/postgresql');
  try {
    await run('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart']);
  } finally {
    await lock.end().catch(() => undefined);
  }
  const host = new URL(PG_ADMIN_URL);
  for (const until = Date.now() + 30_000; ;) {
    try {
      await run('pg_isready', ['-h', host.hostname, '-p', host.port || '5432', '-q']);
      return;
    } catch (err) {
      if (Date.now() > until) throw err;
      await sleep(100);
    }
  }
}
