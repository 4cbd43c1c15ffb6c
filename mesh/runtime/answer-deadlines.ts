import { TaskState } from '../../gen/agentmesh/v1/task.js';
import type { Store, TaskRecord } from '../state/index.js';
import type { Logger } from '../telemetry/index.js';
import { waitingRequest } from './task-access.js';

/** Default interval of the sweep for waiting tasks whose answer deadline passed, ms. */
export const DEFAULT_EXPIRY_SWEEP_MS = 5_000;
// A timer further out than this is left to the sweep (setTimeout caps at about 24.8 days anyway).
const LONGEST_TIMER_MS = 60 * 60_000;

/** What AnswerDeadlines works with: the store, and how the runtime fails a task whose step expired. */
export interface AnswerDeadlinesOptions {
  store: Store;
  log: Logger;
  /** Fails the task (a compare-and-set change: of several replicas, one does it). */
  expire(rec: TaskRecord): Promise<void>;
  sweepMs?: number;
}

/** When the step a stored task waits for stops taking answers, if it has a deadline. */
export function expiresAt(rec: TaskRecord): Date | undefined {
  return waitingRequest(rec)?.expiresAt;
}

/**
 * Fails the waiting tasks whose answer deadline (InputRequest.expires_at)
 * passed: a timer for each deadline this replica set, and a periodic sweep of
 * the store for the others (another replica's, or one from before a restart).
 */
export class AnswerDeadlines {
  private sweep: NodeJS.Timeout | undefined;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly o: AnswerDeadlinesOptions) {}

  /** Sweeps the store now and every sweepMs until close(). */
  follow(): void {
    if (this.sweep || this.closed) return;
    const every = this.o.sweepMs ?? DEFAULT_EXPIRY_SWEEP_MS;
    const next = () => {
      if (this.closed) return;
      this.sweep = setTimeout(() => void this.sweepOnce().finally(next), every);
      this.sweep.unref();
    };
    void this.sweepOnce().finally(next);
  }

  /** Fails every waiting task whose deadline passed; returns how many this replica failed. */
  async sweepOnce(): Promise<number> {
    let failed = 0;
    try {
      // The database's clock: every replica judges a deadline alike.
      const now = (await this.o.store.now()).getTime();
      for (const rec of await this.o.store.tasks.list({ states: [TaskState.TASK_STATE_INPUT_REQUIRED] })) {
        const at = expiresAt(rec);
        if (!at || at.getTime() > now || this.closed) continue;
        if (await this.tryExpire(rec)) failed++;
      }
    } catch (err) {
      this.o.log.warn({ err }, 'sweep for expired approvals failed');
    }
    return failed;
  }

  /** Arms a timer for the deadline of a task this replica just made wait (`now`: the database's clock). */
  due(rec: TaskRecord, now: Date): void {
    const at = expiresAt(rec);
    if (!at || this.closed) return;
    // The wait is measured locally; the deadline is judged again by the database's clock when it ends.
    const wait = Math.max(0, at.getTime() - now.getTime());
    if (wait > LONGEST_TIMER_MS) return;
    clearTimeout(this.timers.get(rec.id));
    const timer = setTimeout(() => {
      this.timers.delete(rec.id);
      void Promise.all([this.o.store.tasks.get(rec.id), this.o.store.now()])
        .then(([latest, now]) => {
          const deadline = expiresAt(latest);
          if (deadline && deadline.getTime() <= now.getTime()) return this.tryExpire(latest);
          if (deadline) this.due(latest, now);
          return false;
        })
        .catch((err: unknown) => this.o.log.warn({ err, task_id: rec.id }, 'could not expire an approval'));
    }, wait);
    timer.unref();
    this.timers.set(rec.id, timer);
  }

  private async tryExpire(rec: TaskRecord): Promise<boolean> {
    try {
      await this.o.expire(rec);
      return true;
    } catch (err) {
      // Answered, canceled or failed meanwhile (here or by another replica): nothing to do.
      this.o.log.debug({ err, task_id: rec.id }, 'expired approval not failed here: the task moved on');
      return false;
    }
  }

  /** Stops the sweep and the timers. */
  close(): void {
    this.closed = true;
    clearTimeout(this.sweep);
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
