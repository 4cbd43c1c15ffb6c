import { sql, type Kysely } from 'kysely';
import type { MeshError } from '../core/index.js';
import type { Logger } from '../telemetry/index.js';
import type { Backend, BackendKind } from './backend.js';
import { loadStateConfig, type StateConfig } from './config.js';
import { StoreContext } from './context.js';
import { Conversations } from './conversations.js';
import { toMeshError } from './db-errors.js';
import { ExecutionRecords } from './execution-records.js';
import { logicalProblems } from './integrity.js';
import { migrate } from './migrate.js';
import type { Notices } from './notifications.js';
import { Plans } from './plans.js';
import { openSqlite } from './sqlite-backend.js';
import { StepLog } from './steps.js';
import { TaskEvents } from './task-events.js';
import { Tasks } from './tasks.js';
import { transitionBatcher } from './postgres-transition.js';
import { ToolResults } from './tool-results.js';

/** What openStore needs. */
export interface StoreOptions {
  /** The owning service, "namespace/name": names its SQLite file or PostgreSQL schema. */
  service: string;
  /** Parsed settings; read from the environment (loadStateConfig) when omitted. */
  config?: StateConfig;
  log?: Logger;
  /**
   * Told once when the store fails closed (SQLite: a failed WAL sync; every later call is refused
   * until a restart), so that the service can report itself broken (ServiceKit.broken).
   */
  onFailure?: (failure: MeshError) => void;
}

/** The task record modules, as `atomically` hands them to its function. */
export type TaskWrites = Pick<Store, 'tasks' | 'events' | 'plans' | 'records' | 'steps'>;

/** A service's durable state: one interface, the same queries on SQLite and PostgreSQL. */
export class Store {
  /** Conversation state by context_id, versioned, with rollback. */
  readonly conversations: Conversations;
  /** Tasks with the A2A state machine and compare-and-set updates. */
  readonly tasks: Tasks;
  /** Append-only task event logs. */
  readonly events: TaskEvents;
  /** Immutable task plans. */
  readonly plans: Plans;
  /** Immutable execution and explainability records. */
  readonly records: ExecutionRecords;
  /** Step transitions, written before they are acted on; what to resume after a crash. */
  readonly steps: StepLog;
  /** Tool results by idempotency key. */
  readonly toolResults: ToolResults;
  private readonly ctx: StoreContext;

  /** @internal use openStore, which migrates the schema first. */
  constructor(
    private readonly backend: Backend,
    /** The schema version the database is at. */
    readonly schemaVersion: number,
  ) {
    const ctx = new StoreContext(backend.db, backend.codec, undefined, false, {
      kind: backend.kind,
      nowMs: backend.nowMs,
      timeIn: backend.timeIn,
      notices: backend.notices,
      transitions: transitionBatcher(backend),
      prepared: backend.prepared,
    });
    this.ctx = ctx;
    this.conversations = new Conversations(ctx);
    this.tasks = new Tasks(ctx);
    this.events = new TaskEvents(ctx);
    this.plans = new Plans(ctx);
    this.records = new ExecutionRecords(ctx);
    this.steps = new StepLog(ctx, this.tasks);
    this.toolResults = new ToolResults(ctx);
  }

  /**
   * Runs fn over the task records inside one transaction: all of its writes
   * commit together or none does (a crash never leaves half of a change).
   * Keep fn to store calls: waiting on anything else holds the transaction open. Never await
   * another caller's store call in fn: on SQLite an earlier transaction sharing this one's COMMIT
   * is answered only after fn ends, so that wait never ends.
   */
  async atomically<T>(fn: (tx: TaskWrites) => Promise<T>): Promise<T> {
    return this.ctx.transaction((ctx) => {
      const tasks = new Tasks(ctx);
      return fn({
        tasks,
        events: new TaskEvents(ctx),
        plans: new Plans(ctx),
        records: new ExecutionRecords(ctx),
        steps: new StepLog(ctx, tasks),
      });
    });
  }

  /**
   * Change notices: listen to a channel to hear of writes committed by this
   * process or any other sharing the store (task events: channel "task",
   * payload the task id).
   */
  get notices(): Notices {
    return this.backend.notices;
  }

  /** The query context, for a service's own tables in this store (see StoreContext.withTables). */
  get context(): StoreContext {
    return this.ctx;
  }

  /** "sqlite" or "postgres". */
  get kind(): BackendKind {
    return this.backend.kind;
  }

  /** The SQLite file, or the PostgreSQL server, database and schema (no credentials). */
  get location(): string {
    return this.backend.location;
  }

  /**
   * The database's clock: replicas that judge deadlines by it agree, whatever
   * their own clocks say (as leases do).
   */
  async now(): Promise<Date> {
    const row = await this.ctx.read((db) => sql<{ ms: number | string }>`select ${this.ctx.nowMs()} as ms`.execute(db));
    return new Date(Number(row.rows[0]!.ms));
  }

  /** Runs the database's own checks and the store's invariants; returns the problems found (none: healthy). */
  async checkIntegrity(): Promise<string[]> {
    try {
      return [...(await this.backend.physicalCheck()), ...(await logicalProblems(this.backend.db))];
    } catch (err) {
      throw toMeshError(err);
    }
  }

  /** Closes the file or the connection pool; pending operations finish first. */
  async close(): Promise<void> {
    await this.backend.notices.close();
    await this.backend.db.destroy();
  }
}

/**
 * Opens a service's store: PostgreSQL when DATABASE_URL is set, else SQLite under the data
 * directory; then runs the migrations, refusing a schema newer than this code.
 */
export async function openStore(options: StoreOptions): Promise<Store> {
  const config = options.config ?? loadStateConfig();
  const url = config.DATABASE_URL;
  // pg is loaded only by services that use PostgreSQL.
  const backend =
    url === undefined
      ? openSqlite(options.service, config, options.log, options.onFailure)
      : (await import('./postgres-backend.js')).openPostgres(options.service, url, config, options.log);
  try {
    const version = await migrate(backend.db as unknown as Kysely<unknown>, {
      types: backend.types,
      schema: backend.schema,
      log: options.log,
    });
    options.log?.info(
      { backend: backend.kind, location: backend.location, schemaVersion: version },
      'state store ready',
    );
    return new Store(backend, version);
  } catch (err) {
    await backend.notices.close().catch(() => undefined);
    await backend.db.destroy().catch(() => undefined);
    throw toMeshError(err);
  }
}
