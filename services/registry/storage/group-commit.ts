import { setImmediate as nextTurn } from 'node:timers/promises';

/** One transaction of a batch: runs `body` in it and commits, or throws (and nothing of it is kept). */
export type BatchTransaction<Tx> = (body: (tx: Tx) => Promise<void>) => Promise<void>;

/** Runs one write of a batch so that its failure undoes it alone (a savepoint), and rethrows that failure. */
export type Isolate<Tx> = <T>(tx: Tx, write: (tx: Tx) => Promise<T>) => Promise<T>;

interface Pending<Tx> {
  write: (tx: Tx) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; err: unknown };

/**
 * Group commit: writes submitted while a transaction runs wait, and then go together into the
 * next one, so many concurrent writers cost one transaction and one fsync instead of one each.
 * Every write of a batch runs in its own savepoint: one that fails is undone alone and its caller
 * gets its own error, the others commit. A caller is answered only after the transaction holding
 * its write has committed and `afterCommit` has run (the replica's memory then reflects it), never
 * before: an answered write is as durable as with one transaction per write. A lone write runs
 * without a savepoint (its transaction is its own).
 */
export class GroupCommit<Tx> {
  private queue: Pending<Tx>[] = [];
  private draining = false;

  constructor(
    private readonly transaction: BatchTransaction<Tx>,
    private readonly isolate: Isolate<Tx>,
    /** Brings what follows the store up to the batch just committed; answers wait for it. */
    private readonly afterCommit: () => Promise<void> = () => Promise.resolve(),
    /** Bounds how long one transaction holds the writers' lock. */
    private readonly maxBatch = 256,
  ) {}

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
        const batch = this.queue.splice(0, this.maxBatch);
        const outcomes = await this.commit(batch);
        // The next batch starts now; these callers are answered once memory has caught up with theirs.
        const settle = () => batch.forEach((p, i) => settleOne(p, outcomes[i]!));
        if (outcomes.some((o) => o.ok)) void this.afterCommit().then(settle, settle);
        else settle();
      }
    } finally {
      this.draining = false;
    }
  }

  private async commit(batch: Pending<Tx>[]): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    try {
      await this.transaction(async (tx) => {
        outcomes.length = 0;
        if (batch.length === 1) {
          outcomes.push({ ok: true, value: await batch[0]!.write(tx) });
          return;
        }
        for (const p of batch) {
          try {
            outcomes.push({ ok: true, value: await this.isolate(tx, p.write) });
          } catch (err) {
            outcomes.push({ ok: false, err });
          }
        }
      });
      return outcomes;
    } catch (err) {
      // Nothing committed: a write that failed on its own keeps its own error, the others get the transaction's.
      return batch.map((_, i) => {
        const own = outcomes[i];
        return own && !own.ok ? own : { ok: false, err };
      });
    }
  }
}

function settleOne<Tx>(p: Pending<Tx>, o: Outcome): void {
  if (o.ok) p.resolve(o.value);
  else p.reject(o.err);
}
