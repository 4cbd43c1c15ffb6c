import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { TaskState } from '../../gen/agentmesh/v1/task.js';
import { Code, MeshError } from '../core/index.js';
import { isLeaseLost, leaseLost, LEASED_STATES, type Store, type TaskLease } from '../state/index.js';
import type { Logger, MeshMetrics } from '../telemetry/index.js';

// Tasks one takeover query lists; a scan repeats it while it keeps finding some.
const SCAN_BATCH = 100;

/** One run of a task in this process: how to stop it, and the lease it holds (once taken). */
export interface Run {
  controller: AbortController;
  lease?: TaskLease;
  /** Set while the run writes the change that gives its lease up: a renewal that misses it then is no loss. */
  releasing?: boolean;
  /** A check of the task's owner (after a renewal miss or a change notice) is under way. */
  checking?: boolean;
  /** Taken over from a release before leases, whose run's deadline passed: this run starts a new one. */
  freshBudget?: boolean;
}

/** What TaskOwnership works with: the runtime's runs and how it starts one. */
export interface TaskOwnershipOptions {
  store: Store;
  log: Logger;
  metrics?: MeshMetrics;
  leaseMs: number;
  /** This process's runs by task id (the runtime's own map, read here). */
  running: Map<string, Run>;
  /** Starts a run of a task this replica has just taken. */
  start(taskId: string, lease: TaskLease, freshBudget?: boolean): void;
}

/**
 * A replica's side of task leases: renews the leases of its runs in one
 * UPDATE every third of the lease, takes over tasks whose lease lapsed every
 * half lease (with jitter), and stops a run whose lease is gone (taken over,
 * or revoked by a cancel) so it writes nothing more.
 */
export class TaskOwnership {
  /** The owner id in task leases: unique per process, so a restarted process is another owner. */
  readonly replicaId = randomUUID();
  private renewal: NodeJS.Timeout | undefined;
  private scan: NodeJS.Timeout | undefined;
  private scanning: Promise<number> | undefined;
  private closed = false;
  private renewingNow = false;

  constructor(private readonly o: TaskOwnershipOptions) {}

  /** A lease of this replica with the given token. */
  lease(fencing: number): TaskLease {
    return { owner: this.replicaId, fencing, ttlMs: this.o.leaseMs };
  }

  /** Stops a run that no longer holds its task's lease: it writes nothing more; its steps see the abort. */
  lost(taskId: string, run: Run, why: unknown): void {
    if (run.controller.signal.aborted) return;
    const fencing = run.lease?.fencing;
    run.controller.abort(isLeaseLost(why) ? why : leaseLost(taskId, fencing ?? 0));
    this.o.metrics?.taskLeases.inc({ event: 'lost' });
    this.o.log.warn(
      { task_id: taskId, replica: this.replicaId, fencing, reason: (why as Error).message },
      'lease of task lost: its run stops and writes nothing more',
    );
  }

  /** Runs fn (a write of the run); a lost lease stops the run at once. */
  async fenced<T>(taskId: string, run: Run, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (isLeaseLost(err)) this.lost(taskId, run, err);
      throw err;
    }
  }

  /** The run's lease; a run only writes once it holds one. */
  leaseOf(taskId: string, run: Run): TaskLease {
    if (!run.lease) throw leaseLost(taskId, 0);
    return run.lease;
  }

  /** Renews the leases of this replica's runs every third of the lease, while it has any. */
  renewing(): void {
    if (this.renewal || this.closed) return;
    this.renewal = setInterval(() => void this.renew(), Math.max(100, Math.floor(this.o.leaseMs / 3)));
    this.renewal.unref();
  }

  /** One UPDATE extends every lease this replica holds; a run whose lease is gone is stopped. */
  private async renew(): Promise<void> {
    // One renewal at a time: in a database stall they would pile up, hold the pool and deadlock each other.
    if (this.renewingNow) return;
    this.renewingNow = true;
    try {
      await this.renewHeld();
    } finally {
      this.renewingNow = false;
    }
  }

  private async renewHeld(): Promise<void> {
    const held = [...this.o.running].filter(([, r]) => r.lease && !r.releasing);
    if (!held.length) {
      if (!this.o.running.size) {
        clearInterval(this.renewal);
        this.renewal = undefined;
      }
      return;
    }
    let kept: Map<string, number>;
    try {
      kept = await this.o.store.tasks.renew(
        this.replicaId,
        held.map(([id]) => id),
        this.o.leaseMs,
      );
    } catch (err) {
      // Every write is fenced anyway: a lease that lapses meanwhile only costs this replica the task.
      this.o.log.warn({ err, replica: this.replicaId, tasks: held.length }, 'task lease renewal failed');
      return;
    }
    // Gone: canceled (the run is aborted as canceled) or taken by another replica (lost).
    for (const [id, run] of held)
      if (run.lease && !run.releasing && kept.get(id) !== run.lease.fencing && !run.checking)
        void this.checkOwner(id, run);
  }

  /**
   * Takes over, now and every half lease (with ±20 % jitter), the SUBMITTED
   * and WORKING tasks whose lease is absent or lapsed (a replica that died,
   * hangs or stopped): at start-up this resumes only tasks no live replica
   * holds. Returns how many tasks the first scan took.
   */
  async follow(): Promise<number> {
    this.o.log.info(
      { replica: this.replicaId, host: hostname(), lease_ms: this.o.leaseMs },
      'task lease owner id of this replica',
    );
    // One process owns an SQLite file: leases left by an earlier process of it are void, so a
    // restart resumes its tasks at once, as it did before leases.
    if (this.o.store.kind === 'sqlite') await this.o.store.tasks.voidLeases();
    const taken = await this.takeOver();
    this.o.log.info({ replica: this.replicaId, tasks: taken }, 'takeover scan at start-up done');
    const next = () => {
      if (this.closed) return;
      const half = this.o.leaseMs / 2;
      this.scan = setTimeout(
        () =>
          void this.takeOver()
            .catch((err: unknown) => this.o.log.warn({ err, replica: this.replicaId }, 'task takeover scan failed'))
            .finally(next),
        Math.round(half * (0.8 + 0.4 * Math.random())),
      );
      this.scan.unref();
    };
    next();
    return taken;
  }

  /** One takeover scan: every lapsed task that this replica wins (one UPDATE per task decides) is run here. */
  takeOver(): Promise<number> {
    this.scanning ??= (async () => {
      let taken = 0;
      try {
        for (;;) {
          // One process owns an SQLite file: a task nobody leased there is no other release's run.
          const grace = this.o.store.kind === 'sqlite' ? 0 : this.o.leaseMs;
          const lapsed = await this.o.store.tasks.lapsed(SCAN_BATCH, grace);
          let won = 0;
          for (const t of lapsed) {
            if (this.o.running.has(t.id) || this.closed) continue;
            // A row a frozen replica's open transaction locks is passed over (taken on a later scan, once
            // the database ends that transaction: AGENTMESH_DB_IDLE_IN_TRANSACTION_MS), not waited for.
            const got = await this.o.store.tasks.acquire(t.id, this.replicaId, this.o.leaseMs, LEASED_STATES, {
              skipLocked: true,
            });
            if (!got) continue;
            won++;
            this.tookOver(t.id, got);
            // Nobody held it: a release before leases ran it, and that run's deadline has passed. A new budget.
            this.o.start(t.id, this.lease(got.fencing), got.previousOwner === undefined);
          }
          taken += won;
          if (lapsed.length < SCAN_BATCH || won === 0) break;
        }
      } finally {
        this.scanning = undefined;
      }
      return taken;
    })();
    return this.scanning;
  }

  /** Logs and counts a task this replica took from another (or from nobody: written before leases). */
  tookOver(taskId: string, got: { fencing: number; previousOwner: string | undefined }): void {
    this.o.metrics?.taskLeases.inc({ event: 'takeover' });
    this.o.log.info(
      { task_id: taskId, previous_owner: got.previousOwner ?? null, replica: this.replicaId, fencing: got.fencing },
      'resuming unfinished tasks: took over a task whose lease was free or lapsed',
    );
  }

  /** Reads the task: a run of a task canceled meanwhile is aborted as canceled; one taken by another replica, as lost. */
  async checkOwner(taskId: string, run: Run): Promise<void> {
    run.checking = true;
    try {
      const rec = await this.o.store.tasks.holder(taskId);
      const lease = run.lease;
      if (!rec || !lease || run.releasing || run.controller.signal.aborted) return;
      if (rec.state === TaskState.TASK_STATE_CANCELED)
        run.controller.abort(new MeshError(Code.CANCELLED, `task ${taskId} was canceled`));
      else if (rec.owner !== lease.owner || rec.fencing !== lease.fencing)
        this.lost(taskId, run, leaseLost(taskId, lease.fencing));
    } catch (err) {
      this.o.log.warn({ err, task_id: taskId }, 'could not check the owner of a task');
    } finally {
      run.checking = false;
    }
  }

  /**
   * Stops renewing and scanning and hands this replica's tasks over: their
   * runs stop (a step in flight is re-sent by the next owner under its key)
   * and their leases are made to lapse at once, so another replica takes them
   * without waiting for the lease to run out.
   */
  async close(idle: (taskId: string) => Promise<void>): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.scan);
    clearInterval(this.renewal);
    this.renewal = undefined;
    // A scan in flight may still win a task: wait, so that it is handed over too.
    await this.scanning?.catch(() => undefined);
    const runs = [...this.o.running];
    for (const [, run] of runs)
      run.controller.abort(new MeshError(Code.UNAVAILABLE, 'the replica running this task is shutting down'));
    await Promise.all(runs.map(([id]) => idle(id)));
    const held = runs.filter(([, r]) => r.lease && !r.releasing).map(([id]) => id);
    // A 1 ms lease: lapsed by the time any other replica looks.
    if (held.length)
      await this.o.store.tasks.renew(this.replicaId, held, 1).catch((err: unknown) => {
        this.o.log.warn({ err, tasks: held.length }, 'could not hand tasks over at shutdown; their leases lapse');
      });
  }
}
