import { setImmediate as nextTurn } from 'node:timers/promises';

/** One transaction of a batch: runs `body` in it and commits, or throws (and nothing of it is kept). */
export type BatchTransaction<Tx> = (body: (tx: Tx) => Promise<void>) => Promise<void>;

/** Runs one write of a batch; how its failure is kept from the others' writes is up to the runner. */
export type RunWrite<Tx> = <T>(tx: Tx, write: (tx: Tx) => Promise<T>) => Promise<T>;

/**
 * Thrown by an `attempt` runner when a write failed in a way only a savepoint can keep from the
 * batch (it had changed something, or the database refused a statement): the batch is rolled
 * back and run again with every write in its own savepoint.
 */
export class NeedsSavepoint extends Error {
  constructor(cause: unknown) {
    super('a write of the batch must be undone alone', { cause });
  }
}

/** How a GroupCommit writes. */
export interface GroupCommitOptions<Tx> {
  transaction: BatchTransaction<Tx>;
  /** Runs a write in its own savepoint, so that its failure undoes it alone; rethrows that failure. */
  isolate: RunWrite<Tx>;
  /**
   * Runs a write without a savepoint (two statements fewer each). It rethrows a failure that left
   * nothing to undo (a refusal before any change); it throws NeedsSavepoint for any other.
   */
  attempt?: RunWrite<Tx>;
  /** Brings what follows the store up to the batch just committed; answers wait for it. */
  afterCommit?: () => Promise<void>;
  /** Bounds how long one transaction holds the writers' lock. */
  maxBatch?: number;
}

interface Pending<Tx> {
  write: (tx: Tx) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; err: unknown };

/**
 * Group commit: writes submitted while a transaction runs wait, and then go together into the
 * next one, so many concurrent writers cost one transaction and one fsync instead of one each.
 * A write that fails is kept from the others: refused before changing anything, it simply fails;
 * otherwise the batch is run again with every write in its own savepoint, so it is undone alone.
 * Either way its caller gets its own error and the others commit. A caller is answered only after
 * the transaction holding its write has committed and `afterCommit` has run (the replica's memory
 * then reflects it), never before: an answered write is as durable as with one transaction per
 * write. A lone write runs without a savepoint (its transaction is its own).
 */
export class GroupCommit<Tx> {
  private queue: Pending<Tx>[] = [];
  private draining = false;

  constructor(private readonly options: GroupCommitOptions<Tx>) {}

  /** Queues a write; resolves with its result once the transaction holding it has committed. */
  submit<T>(write: (tx: Tx) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ write, resolve: resolve as (value: unknown) => void, reject });
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      // One turn of the event loop lets writers that arrive together (a burst of calls) share the first batch.
      await nextTurn();
      while (this.queue.length) {
        const batch = this.queue.splice(0, this.options.maxBatch ?? 256);
        const outcomes = await this.commit(batch, !this.options.attempt);
        // The next batch starts now; these callers are answered once memory has caught up with theirs.
        const settle = () => batch.forEach((p, i) => settleOne(p, outcomes[i]!));
        if (outcomes.some((o) => o.ok) && this.options.afterCommit)
          void this.options.afterCommit().then(settle, settle);
        else settle();
      }
    } finally {
      this.draining = false;
    }
  }

  private async commit(batch: Pending<Tx>[], isolated: boolean): Promise<Outcome[]> {
    const { transaction, isolate, attempt } = this.options;
    const run = isolated ? isolate : attempt!;
    const outcomes: Outcome[] = [];
    try {
      await transaction(async (tx) => {
        outcomes.length = 0;
        if (batch.length === 1) {
          outcomes.push({ ok: true, value: await batch[0]!.write(tx) });
          return;
        }
        for (const p of batch) {
          try {
            outcomes.push({ ok: true, value: await run(tx, p.write) });
          } catch (err) {
            if (err instanceof NeedsSavepoint) throw err;
            outcomes.push({ ok: false, err });
          }
        }
      });
      return outcomes;
    } catch (err) {
      if (needsSavepoint(err)) return this.commit(batch, true);
      // Nothing committed: a write that failed on its own keeps its own error, the others get the transaction's.
      return batch.map((_, i) => {
        const own = outcomes[i];
        return own && !own.ok ? own : { ok: false, err };
      });
    }
  }
}

// The transaction may hand the marker back wrapped (as the cause of the store's own error).
const needsSavepoint = (err: unknown) =>
  err instanceof NeedsSavepoint || (err as { cause?: unknown } | null)?.cause instanceof NeedsSavepoint;

function settleOne<Tx>(p: Pending<Tx>, o: Outcome): void {
  if (o.ok) p.resolve(o.value);
  else p.reject(o.err);
}
