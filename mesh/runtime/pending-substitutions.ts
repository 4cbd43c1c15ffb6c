import type { NewExecutionRecord, TaskWrites } from '../state/index.js';

/**
 * A run's substitution records, held until the next write of their step (its RUNNING transition,
 * else its end) and written in that transaction: one durable write per step transition instead of
 * a separate one for the substitution log. The log is still durable before the step's call goes
 * out, as the start is written before it is acted on.
 */
export class PendingSubstitutions {
  private readonly pending = new Map<string, NewExecutionRecord[]>();

  /** Holds a record of step `stepId`. */
  add(stepId: string, record: NewExecutionRecord): void {
    const held = this.pending.get(stepId) ?? [];
    held.push(record);
    this.pending.set(stepId, held);
  }

  /** Whether any record is held. */
  get empty(): boolean {
    return this.pending.size === 0;
  }

  /**
   * Writes the records held for `stepId` (every step's when undefined) in `tx`; one a resumed run
   * wrote already stands (a resumed step substitutes the same values again). They stay held until
   * `forget` is called once `tx` has committed: a transaction that rolls back (a conflict or a lost
   * connection, retried by the executor) must not take the only copy of the log with it.
   */
  async flush(tx: TaskWrites, stepId?: string): Promise<void> {
    const steps = stepId === undefined ? [...this.pending.keys()] : [stepId];
    for (const step of steps)
      for (const record of this.pending.get(step) ?? [])
        if ((await tx.records.find(record.id)) === undefined) await tx.records.put(record);
  }

  /** Drops the records of `stepId` (every step's when undefined): call after their transaction committed. */
  forget(stepId?: string): void {
    if (stepId === undefined) this.pending.clear();
    else this.pending.delete(stepId);
  }
}
