import { isConnectionError } from './db-errors.js';
import type { Transition } from './postgres-transition.js';

/** The task row a transition wrote, as the database returned it. */
export type TransitionRow = Record<string, unknown> & { id: string };

interface Pending {
  transition: Transition;
  resolve: (row: TransitionRow | undefined) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit of task transitions. While a statement is running, the transitions that
 * arrive wait and then go together, as one statement, in one transaction with one commit
 * flush; a lone writer never waits (its transition goes at once, alone). Fewer, larger
 * statements are what buys throughput on a busy server (measured: one statement in flight
 * at a time beat ten by 1.5–5x at 32 writers). A statement running longer than `stallMs`
 * (waiting on a row lock another transaction holds, say) stops counting, so the others'
 * transitions go on beside it, up to `maxStatements` at once (the pool's connections).
 * Each caller still gets its own answer: its row, or undefined when its compare-and-set did
 * not match (the others in the batch are not affected). Every caller is answered only once
 * the statement — its transaction — has committed. A task is never in two running batches,
 * so batches never wait on each other's row locks; its transitions keep their order.
 */
export class TransitionBatcher {
  private readonly queue: Pending[] = [];
  private readonly busy = new Set<string>();
  /** When each running statement started (performance.now()). */
  private readonly running = new Set<{ started: number }>();
  private recheck: NodeJS.Timeout | undefined;

  constructor(
    /** Applies transitions of distinct tasks in one transaction; the rows of those that matched. */
    private readonly run: (batch: Transition[]) => Promise<TransitionRow[]>,
    private readonly maxStatements: number,
    private readonly stallMs = 100,
    private readonly maxBatch = 256,
  ) {}

  /** Applies one transition; resolves, after commit, with its row, or undefined when it did not match. */
  apply(transition: Transition): Promise<TransitionRow | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ transition, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0 && this.running.size < this.maxStatements) {
      const now = performance.now();
      const fresh = [...this.running].filter((r) => now - r.started < this.stallMs);
      if (fresh.length > 0) {
        // Look again when the youngest running statement would count as stalled.
        const wait = this.stallMs - (now - Math.max(...fresh.map((r) => r.started)));
        clearTimeout(this.recheck);
        this.recheck = setTimeout(() => this.pump(), Math.ceil(wait));
        this.recheck.unref();
        return;
      }
      const batch = this.take();
      if (batch.length === 0) return;
      const statement = { started: now };
      this.running.add(statement);
      void this.send(batch).finally(() => {
        this.running.delete(statement);
        for (const p of batch) this.busy.delete(p.transition.id);
        this.pump();
      });
    }
  }

  // The oldest waiting transition of each task not already in a running batch, in queue order.
  private take(): Pending[] {
    const batch: Pending[] = [];
    const ids = new Set<string>();
    for (let i = 0; i < this.queue.length && batch.length < this.maxBatch;) {
      const { id } = this.queue[i]!.transition;
      if (this.busy.has(id) || ids.has(id)) {
        i++;
        continue;
      }
      ids.add(id);
      batch.push(...this.queue.splice(i, 1));
    }
    for (const id of ids) this.busy.add(id);
    // One lock order for every batch, so two statements over the same rows cannot deadlock.
    return batch.sort((a, b) => (a.transition.id < b.transition.id ? -1 : 1));
  }

  private async send(batch: Pending[]): Promise<void> {
    try {
      const rows = await this.run(batch.map((p) => p.transition));
      const byId = new Map(rows.map((r) => [r.id, r]));
      for (const p of batch) p.resolve(byId.get(p.transition.id));
    } catch (err) {
      // Lost connection: the outcome is unknown for all of them, as it would be for each alone.
      if (batch.length === 1 || isConnectionError(err)) {
        for (const p of batch) p.reject(err);
        return;
      }
      // Anything else (a deadlock with another writer, a timeout on one task's row lock): each alone,
      // for its own answer, side by side — one after the other, a task whose row is still locked would
      // hold up every transition queued behind it for another timeout.
      await Promise.all(batch.map((p) => this.send([p])));
    }
  }
}
