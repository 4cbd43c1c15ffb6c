import type BetterSqlite from 'better-sqlite3';
import {
  CompiledQuery,
  Kysely,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryCompiler,
  type QueryResult,
  type SqliteDatabase,
  type SqliteStatement,
} from 'kysely';
import { Code, MeshError } from '../core/index.js';
import { closeWithoutCheckpoint, type WalSync } from './sqlite-wal-sync.js';

export type { WalSync } from './sqlite-wal-sync.js';

/**
 * The most transactions one COMMIT holds: bounds how long a plain read waits behind a group
 * (it runs once the group has committed) and how much one failed COMMIT takes down with it.
 */
export const MAX_GROUP = 16;

// Each transaction after the first of a group runs in this savepoint, so that its failure undoes it alone.
const MEMBER = 'agentmesh_group_member';

/** How many transactions ran, how many COMMITs they took, and how many WAL syncs (with a WalSync). */
export interface GroupCommitStats {
  transactions: number;
  commits: number;
  syncs: number;
}

interface Waiter {
  transaction: boolean;
  grant: () => void;
  refuse: (err: unknown) => void;
}

interface Pending {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * A caller's handle on the one connection. It holds nothing until used: a transaction takes its
 * turn in beginTransaction, statements outside one at their first query (until released).
 */
class Handle implements DatabaseConnection {
  state: 'idle' | 'statements' | 'transaction' | 'ended' = 'idle';
  /** The transaction runs in a savepoint inside a group opened by an earlier one. */
  joined = false;

  constructor(private readonly driver: GroupCommitDriver) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    await this.holdForStatements();
    const { result, write } = this.driver.run<R>(query);
    // A write outside a transaction (a migration's, an INSERT ... RETURNING of a service's own
    // table): answered once durable, like a transaction.
    if (write && this.outsideTransaction()) await this.driver.durable();
    return result;
  }

  async *streamQuery<R>(query: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    await this.holdForStatements();
    const { rows, write } = this.driver.iterate(query);
    if (write && this.outsideTransaction()) {
      // Its rows tell of the write: none is handed out before the write is durable.
      const all = [...rows];
      await this.driver.durable();
      for (const row of all) yield { rows: [row as R] };
      return;
    }
    for (const row of rows) {
      this.driver.check();
      yield { rows: [row as R] };
    }
  }

  private outsideTransaction(): boolean {
    return this.state === 'statements' && !this.driver.inTransaction;
  }

  private async holdForStatements(): Promise<void> {
    if (this.state !== 'idle') return;
    this.state = 'statements';
    await this.driver.turn(false);
  }
}

/**
 * Kysely's SQLite driver with group commit. SQLite has one writer and better-sqlite3 runs each
 * statement synchronously, so a COMMIT's fsync (synchronous=FULL) blocks the whole process; one
 * COMMIT per transaction made it the largest item of the services' profiles (issue 22).
 *
 * Transactions run one at a time on the one connection, as with Kysely's driver. When one ends
 * while other transactions wait for the connection, it is not committed yet: the next waiting
 * transaction runs in the same SQLite transaction, in a savepoint of its own, and so on until no
 * transaction waits (or MAX_GROUP have run); then one COMMIT ends them all. So:
 * - a caller is answered only after the COMMIT holding its transaction returned (with a WalSync,
 *   and after the WAL sync that followed it): nothing is acknowledged before its fsync;
 * - a transaction that fails is rolled back to its savepoint: the others of its group commit;
 *   its caller gets its error once what it may have read is committed (and synced) or failed;
 * - a failed COMMIT fails every transaction of its group with its error (none of them is kept);
 * - a lone transaction commits at once: a group forms only of transactions that were already
 *   waiting when the one before them ended;
 * - statements outside a transaction (plain reads) never run inside an open group: they wait
 *   for its COMMIT (transactions waiting behind them join the group first, at most MAX_GROUP),
 *   so a read never sees a write that may still fail to commit; with a WalSync they also wait
 *   (and whoever queued behind them) until every commit is synced, while transactions go on
 *   during a sync, answered by a later one.
 * A transaction joining a group sees the writes of the group's earlier ones, which commit with it
 * or fail with it. A transaction's function must not wait for anything but its own statements
 * (as before, it holds the connection): an earlier transaction of its group is not answered yet.
 */
export class GroupCommitDriver implements Driver {
  /**
   * Set at the first failed WAL sync: from then on every caller is refused with it (fail closed).
   * The failed sync's commits are visible to this connection but may not be on disk; serving them,
   * or acknowledging writes built on them (a later sync can succeed: Linux reports a writeback
   * error once, then marks the pages clean), would tell callers of writes a power loss can take
   * back. Only a restart, recovering from what is on disk, makes the store trustworthy again.
   */
  failure: MeshError | undefined;
  readonly stats: GroupCommitStats = { transactions: 0, commits: 0, syncs: 0 };
  private busy = false;
  // The connection is kept from the first waiter, a plain read, until what was committed is durable.
  private held = false;
  // Committed, waiting for the next WAL sync; and those the running sync answers.
  private unsynced: Pending[] = [];
  private inflight: Pending[] = [];
  private syncing = false;
  private syncRun: Promise<void> = Promise.resolve();
  private readonly waiting: Waiter[] = [];
  // The transactions of the open group that ended well, answered at its COMMIT; undefined: no group open.
  private group: Pending[] | undefined;

  constructor(
    private readonly sqlite: BetterSqlite.Database,
    private readonly statements: SqliteDatabase,
    /** With FULL durability: syncs the WAL after COMMITs (public so tests can gate it). */
    readonly wal?: WalSync,
    /** Told once of a failed WAL sync (the store logs it). */
    private readonly onFailure?: (failure: MeshError) => void,
  ) {}

  /** Throws the store's failure once a WAL sync failed. */
  check(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  /** How many transactions and statement runs wait for the connection (tests wait on it). */
  get queued(): number {
    return this.waiting.length;
  }

  async init(): Promise<void> {}

  acquireConnection(): Promise<DatabaseConnection> {
    return Promise.resolve(new Handle(this));
  }

  /** Waits until the connection is this caller's: at once when free, else in arrival order. */
  turn(transaction: boolean): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (!this.busy && (transaction || this.durableNow())) {
      this.busy = true;
      return Promise.resolve();
    }
    const queued = new Promise<void>((grant, refuse) => this.waiting.push({ transaction, grant, refuse }));
    if (!this.busy) {
      // A plain read while a commit is not yet durable: it waits for the sync (see next).
      this.busy = true;
      this.held = true;
    }
    return queued;
  }

  /** Whether SQLite has a transaction open on the connection. */
  get inTransaction(): boolean {
    return this.sqlite.inTransaction;
  }

  /** Resolves once everything committed so far is durable (at once without a WalSync). */
  durable(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.wal === undefined) return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => this.unsynced.push({ resolve, reject }));
    this.syncWal();
    return done;
  }

  /** Runs a statement; `write`: it may change the database (an INSERT ... RETURNING reads rows too). */
  run<R>(query: CompiledQuery): { result: QueryResult<R>; write: boolean } {
    this.check();
    const stmt = this.statements.prepare(query.sql) as Statement;
    const parameters = query.parameters as unknown[];
    const write = stmt.readonly === undefined ? !stmt.reader : !stmt.readonly;
    if (stmt.reader) return { result: { rows: stmt.all(parameters) as R[] }, write };
    const { changes, lastInsertRowid } = stmt.run(parameters);
    return { result: { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] }, write };
  }

  iterate(query: CompiledQuery): { rows: IterableIterator<unknown>; write: boolean } {
    this.check();
    const stmt = this.statements.prepare(query.sql) as Statement;
    const write = stmt.readonly === undefined ? !stmt.reader : !stmt.readonly;
    return { rows: stmt.iterate(query.parameters as unknown[]), write };
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    const handle = connection as Handle;
    handle.state = 'transaction';
    await this.turn(true);
    this.check();
    this.stats.transactions++;
    // Only inside the group's open transaction: a savepoint alone would begin (and commit) one of its own.
    handle.joined = this.group !== undefined && this.sqlite.inTransaction;
    try {
      this.sqlite.exec(handle.joined ? `savepoint ${MEMBER}` : 'begin');
    } catch (err) {
      // Kysely rolls back only a transaction that began: this one ends here.
      handle.state = 'ended';
      this.close();
      throw err;
    }
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const handle = connection as Handle;
    // A failure here is the transaction's own: Kysely then calls rollbackTransaction.
    this.check();
    if (handle.joined) this.sqlite.exec(`release ${MEMBER}`);
    handle.state = 'ended';
    if (this.joinable()) {
      const done = new Promise<void>((resolve, reject) => this.group!.push({ resolve, reject }));
      this.passOn();
      return done;
    }
    const members = this.group ?? [];
    this.group = undefined;
    if (this.wal !== undefined) {
      // Answered with the others, after the WAL sync (or the COMMIT's failure).
      const done = new Promise<void>((resolve, reject) => members.push({ resolve, reject }));
      this.commit(members);
      return done;
    }
    // The one that ended last is answered by this return or throw, the others through `members`.
    const failed = this.commit(members);
    if (failed !== undefined) throw failed;
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const handle = connection as Handle;
    // Ended: its COMMIT was tried (and failed) and already answered the whole group.
    if (handle.state === 'ended') return;
    handle.state = 'ended';
    // The store failed (see failure): the connection is closed, the caller gets the failure.
    this.check();
    this.rollBack(handle);
    // Its error may come of what it read: writes of its group or commits not yet synced. It is
    // answered once those are committed and durable; if they failed, with their error (its own
    // may have come of writes that were then not kept: the COMMIT's error says to retry).
    await new Promise<void>((resolve, reject) => {
      const settled = { resolve, reject };
      if (this.group !== undefined) this.group.push(settled);
      else if (!this.durableNow()) (this.unsynced.length > 0 ? this.unsynced : this.inflight).push(settled);
      else resolve();
    });
  }

  private rollBack(handle: Handle): void {
    if (!handle.joined) {
      // The first of a group: nothing but its own writes is in the transaction yet.
      try {
        if (this.sqlite.inTransaction) this.sqlite.exec('rollback');
      } finally {
        this.next();
      }
      return;
    }
    try {
      this.sqlite.exec(`rollback to ${MEMBER}`);
      this.sqlite.exec(`release ${MEMBER}`);
    } catch {
      // Checked below: what matters is whether the group's transaction is still open.
    }
    if (!this.sqlite.inTransaction) {
      // SQLite ended the whole transaction on this one's error (a full disk, an I/O error): the
      // group's earlier writes are gone with it, so their callers fail too.
      const members = this.group ?? [];
      this.group = undefined;
      const err = new Error('a transaction grouped with this write failed and SQLite rolled back the group');
      for (const m of members) m.reject(err);
      this.next();
      return;
    }
    this.close();
  }

  // Savepoints a transaction's function asks Kysely for (trx.savepoint), inside its own.
  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`savepoint ${quoted(name)}`));
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`rollback to ${quoted(name)}`));
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`release ${quoted(name)}`));
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const handle = connection as Handle;
    // A transaction passed the connection on when it ended; statements hand it on here.
    if (handle.state === 'statements') this.next();
    handle.state = 'idle';
  }

  async destroy(): Promise<void> {
    // A sync still running holds the WAL's descriptor: closed after it (and any it started) ended.
    while (this.syncing) await this.syncRun;
    this.wal?.close();
    // After a failed sync, closing normally would checkpoint frames that may not be on disk.
    if (this.failure !== undefined) closeWithoutCheckpoint(this.sqlite);
    else this.statements.close();
  }

  // A transaction ended without joining the group (rolled back to its savepoint, or never begun):
  // the group goes on or commits (a failed COMMIT answers its members; this one has its own error).
  private close(): void {
    if (this.joinable()) {
      this.passOn();
      return;
    }
    const members = this.group;
    this.group = undefined;
    if (members) this.commit(members);
    else this.next();
  }

  // Whether a waiting transaction can join the group of the one that just ended.
  private joinable(): boolean {
    // No open transaction to join (its BEGIN failed, or SQLite ended it): the group ends here.
    if (!this.sqlite.inTransaction) return false;
    if ((this.group?.length ?? 0) + 1 >= MAX_GROUP) return false;
    if (!this.waiting.some((w) => w.transaction)) return false;
    this.group ??= [];
    return true;
  }

  // Hands the connection to the first waiting transaction, ahead of statements: they wait for the COMMIT.
  private passOn(): void {
    const i = this.waiting.findIndex((w) => w.transaction);
    this.waiting.splice(i, 1)[0]!.grant();
  }

  // One COMMIT for the group's transactions; its error when it failed (every member is answered with it).
  private commit(members: Pending[]): unknown {
    try {
      this.sqlite.exec('commit');
    } catch (err) {
      // A COMMIT refused (a deferred foreign key) leaves the transaction open: nothing of it is kept.
      try {
        if (this.sqlite.inTransaction) this.sqlite.exec('rollback');
      } catch {
        // The next BEGIN then fails, and its caller with it: no one is answered falsely.
      }
      for (const m of members) m.reject(err);
      this.next();
      return err;
    }
    this.stats.commits++;
    if (this.wal !== undefined) {
      this.unsynced.push(...members);
      this.syncWal();
    } else for (const m of members) m.resolve();
    this.next();
    return undefined;
  }

  // Nothing committed is waiting for a sync.
  private durableNow(): boolean {
    return this.unsynced.length === 0 && !this.syncing;
  }

  // Starts a sync of the WAL for every commit so far, unless one runs (its end starts the next).
  private syncWal(): void {
    if (this.failure !== undefined || this.syncing || this.unsynced.length === 0) return;
    const batch = this.unsynced;
    this.unsynced = [];
    this.inflight = batch;
    this.syncing = true;
    this.syncRun = this.wal!.sync().then(
      () => {
        this.stats.syncs++;
        this.synced(batch, undefined);
      },
      (err: unknown) => this.synced(batch, err),
    );
  }

  private synced(batch: Pending[], err: unknown): void {
    this.syncing = false;
    this.inflight = [];
    if (err !== undefined) {
      this.fail(err, batch);
      return;
    }
    for (const m of batch) m.resolve();
    this.syncWal();
    if (this.held && this.durableNow()) {
      this.held = false;
      this.next();
    }
  }

  /**
   * A WAL sync failed: its commits are visible but may not be on disk. Fails closed: every caller
   * waiting for an answer or for the connection, and every later one, gets the failure; no sync
   * starts again; the connection is closed without a checkpoint (or at destroy, if a stream is
   * being read), so nothing more is served from it or copied into the database file.
   */
  private fail(err: unknown, batch: Pending[]): void {
    const code = (err as { code?: unknown }).code;
    const failure = new MeshError(
      Code.UNAVAILABLE,
      `state store: the write-ahead log could not be made durable (${typeof code === 'string' ? code : 'I/O error'}); restart the service`,
      { cause: err },
    );
    this.failure = failure;
    this.busy = true;
    const pending = [...batch, ...this.unsynced, ...this.inflight, ...(this.group ?? [])];
    this.unsynced = [];
    this.group = undefined;
    for (const m of pending) m.reject(failure);
    for (const w of this.waiting.splice(0)) w.refuse(failure);
    try {
      this.onFailure?.(failure);
    } catch {
      // The listener's own failure changes nothing here: the store is failed closed all the same.
    }
    // Whatever the listener did, the unsynced frames must not reach the database file.
    closeWithoutCheckpoint(this.sqlite);
  }

  // The connection goes to the longest waiting caller, or is free.
  private next(): void {
    if (this.failure !== undefined) return;
    const first = this.waiting[0];
    if (first === undefined) this.busy = false;
    // A plain read never sees a commit that is not yet durable: it waits (and those behind it) for the sync.
    else if (!first.transaction && !this.durableNow()) this.held = true;
    else this.waiting.shift()!.grant();
  }
}

// A prepared statement as better-sqlite3 makes it: `readonly` says whether it can write.
type Statement = SqliteStatement & { readonly readonly?: boolean };

const drivers = new WeakMap<object, GroupCommitDriver>();

/** The group-commit driver under a store's Kysely instance (its counts, for tests); undefined on PostgreSQL. */
export function groupCommitOf(db: Kysely<unknown>): GroupCommitDriver | undefined {
  return drivers.get(db);
}

/** Kysely over one better-sqlite3 connection (`statements`: how its statements are prepared), with group commit. */
export function groupCommitKysely<DB>(
  sqlite: BetterSqlite.Database,
  statements: SqliteDatabase,
  wal?: WalSync,
  onFailure?: (failure: MeshError) => void,
): Kysely<DB> {
  const dialect = new GroupCommitDialect(sqlite, statements, wal, onFailure);
  const db = new Kysely<DB>({ dialect });
  drivers.set(db, dialect.driver);
  return db;
}

const quoted = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Kysely's SQLite dialect over one better-sqlite3 connection, with group commit (GroupCommitDriver). */
export class GroupCommitDialect implements Dialect {
  readonly driver: GroupCommitDriver;

  constructor(
    sqlite: BetterSqlite.Database,
    statements: SqliteDatabase,
    wal?: WalSync,
    onFailure?: (failure: MeshError) => void,
  ) {
    this.driver = new GroupCommitDriver(sqlite, statements, wal, onFailure);
  }

  createDriver(): Driver {
    return this.driver;
  }

  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }

  createAdapter(): SqliteAdapter {
    return new SqliteAdapter();
  }

  createIntrospector(db: Kysely<unknown>): SqliteIntrospector {
    return new SqliteIntrospector(db);
  }
}
