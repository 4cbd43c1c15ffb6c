import { TaskState } from '../../gen/agentmesh/v1/task.js';
import { Code, codeName, MeshError } from '../core/index.js';
import {
  assertTransition,
  isTerminal,
  leaseLost,
  type Store,
  type TaskLease,
  type TaskRecord,
  type TaskWrites,
} from '../state/index.js';
import type { AuditEvent, AuditLog } from '../telemetry/index.js';
import type { TaskData } from './task-codec.js';

/** Where a runtime's audit records go; append resolves once the record is durable, as AuditLog's does. */
export type AuditSink = Pick<AuditLog, 'append'>;

/** What a task change writes (see Tasks.update), and why, for its audit record. */
export interface TaskChangeInput {
  state: TaskState | undefined;
  events: unknown[];
  data: Record<string, unknown> | undefined;
  reason?: string;
  /** The run's lease: the change is audited and stored only while the run holds it. */
  lease?: TaskLease;
  /** Takes the task's lease for a run of this replica in the same write. */
  acquire?: { owner: string; ttlMs: number };
  /** Gives the lease up in the same write (the run ends or waits). */
  release?: boolean;
  /** Takes the lease from its holder (a cancel). */
  revoke?: boolean;
  /** More writes in the same transaction as the change (an answer recorded with the move to WORKING). */
  alongside?: (tx: TaskWrites) => Promise<void>;
  /** A record of what the change means besides its state (a person's approval), durable before the change is stored. */
  audit?: AuditEvent;
}

const outcomeOf = (state: TaskState): string => TaskState[state].replace('TASK_STATE_', '');

/**
 * Writes a task's changes one at a time, each state change audited before it
 * is stored: whatever reads the store (GetTask, SendTask's answer, event
 * streams, another process) only ever sees a state whose audit record is
 * already durable. One change at a time per task lets a change be checked
 * (version, lifecycle) before it is audited, so a writer that lost the race
 * (a run ending while its task is canceled) leaves no record of a change that
 * never happened.
 */
export class AuditedTransitions {
  // Per task: the end of its queue of changes.
  private readonly tails = new Map<string, Promise<unknown>>();

  constructor(private readonly o: { store: Store; audit?: AuditSink; service: string; peer?: string }) {}

  /** Runs fn after the task's earlier changes and before its later ones, whatever their outcome. */
  inTurn<T>(taskId: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.tails.get(taskId) ?? Promise.resolve()).then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(taskId, tail);
    void tail.then(() => {
      if (this.tails.get(taskId) === tail) this.tails.delete(taskId);
    });
    return run;
  }

  /**
   * Applies a change computed from `rec`: ABORTED if the task moved on since,
   * FAILED_PRECONDITION for a transition outside the lifecycle — both before
   * anything is recorded.
   */
  apply(rec: TaskRecord, change: TaskChangeInput): Promise<TaskRecord> {
    return this.inTurn(rec.id, async () => {
      const current = await this.o.store.tasks.get(rec.id);
      if (current.version !== rec.version)
        throw new MeshError(
          Code.ABORTED,
          `task ${rec.id} is at version ${current.version}, not ${rec.version}: re-read and retry`,
        );
      const { lease } = change;
      // A run that lost its lease leaves no record of a change it may not make (checked again as it is stored).
      if (lease && (current.owner !== lease.owner || current.fencing !== lease.fencing || isTerminal(current.state)))
        throw leaseLost(rec.id, lease.fencing);
      const to = change.state;
      const moves = to !== undefined && to !== current.state;
      if (change.audit) await this.o.audit?.append(change.audit);
      if (moves) {
        assertTransition(rec.id, current.state, to);
        await this.record(current, 'task_state', to, change.reason);
      }
      const write = {
        expectedVersion: rec.version,
        principal: this.o.service,
        state: to,
        data: change.data,
        events: change.events,
        lease,
        acquire: change.acquire,
        release: change.release,
        revoke: change.revoke,
      };
      const { alongside } = change;
      try {
        return alongside
          ? await this.o.store.atomically(async (tx) => {
              await alongside(tx);
              return tx.tasks.update(rec.id, write);
            })
          : await this.o.store.tasks.update(rec.id, write);
      } catch (err) {
        if (change.audit)
          await this.o.audit
            ?.append({
              ...change.audit,
              outcome: codeName(MeshError.from(err).code),
              reason: `not stored: ${(err as Error).message}`,
            })
            .catch(() => undefined);
        if (!moves) throw err;
        // The trail already says the task moved: a second record says it did not, and why.
        await this.record(
          current,
          'task_state',
          current.state,
          `the change to ${outcomeOf(to)} was not stored: ${(err as Error).message}`,
        ).catch(() => undefined);
        throw err;
      }
    });
  }

  /** An audit record about a task, in the name of the subject it runs for and the agent that sent it. */
  async record(
    rec: TaskRecord,
    kind: 'task_state' | 'plan_created',
    state: TaskState,
    reason?: string,
    resource?: string,
  ): Promise<void> {
    const d = rec.data as unknown as TaskData;
    await this.o.audit?.append({
      kind,
      service: this.o.service,
      subject: d.subject,
      actors: d.actor ? [d.actor] : undefined,
      peer: this.o.peer,
      resource: resource ?? d.skillId,
      outcome: outcomeOf(state),
      reason,
      task_id: rec.id,
      trace_id: d.traceId || undefined,
    });
  }
}
