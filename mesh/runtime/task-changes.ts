import { TaskState } from '../../gen/agentmesh/v1/task.js';
import { isLeaseLost, isTerminal, type TaskRecord, type TaskWrites } from '../state/index.js';
import type { AuditEvent, MeshMetrics } from '../telemetry/index.js';
import type { AuditedTransitions } from './audited-transitions.js';
import { statusEvent, type TaskData } from './task-codec.js';
import { countTransition } from './task-counts.js';
import type { Run, TaskOwnership } from './task-ownership.js';

/** The states in which a task waits for a person (an answer, or a current token of its caller). */
export const WAITING = new Set([TaskState.TASK_STATE_INPUT_REQUIRED, TaskState.TASK_STATE_AUTH_REQUIRED]);

/** How a change is made: by a run (under its lease), a cancel (revoking it), an answer (taking it). */
export interface ChangeHow {
  run?: Run;
  revoke?: boolean;
  acquire?: boolean;
  alongside?: (tx: TaskWrites) => Promise<void>;
  audit?: AuditEvent;
}

/** What TaskChanges works with. */
export interface TaskChangesOptions {
  transitions: AuditedTransitions;
  ownership: TaskOwnership;
  leaseMs: number;
  /** The longest one run may take (a request may ask for less), ms. */
  taskTimeoutMs: number;
  metrics?: MeshMetrics;
  /** Tells the task's followers in this process that it changed. */
  changed(taskId: string): void;
}

/** Every change of a task's state, status or data, with its lease, audit record, metrics and notice. */
export class TaskChanges {
  constructor(private readonly o: TaskChangesOptions) {}

  /**
   * Changes a task: a run's change is made only while it holds the lease (and
   * gives it up when the task ends or waits); a cancel revokes whoever holds
   * it; an answer takes it for a run of this replica.
   */
  async change(
    rec: TaskRecord,
    state: TaskState | undefined,
    events: unknown[],
    data?: Partial<TaskData>,
    how: ChangeHow = {},
  ): Promise<TaskRecord> {
    // The task's status is its latest status event (message, question, time): GetTask tells why it failed or what it waits for.
    const status = statusOf(events);
    const { run } = how;
    const lease = run ? this.o.ownership.leaseOf(rec.id, run) : undefined;
    const release = !!run && state !== undefined && (isTerminal(state) || WAITING.has(state));
    if (run && release) run.releasing = true;
    // Audited, then stored, then announced: no caller sees a state whose record could still be lost.
    let next: TaskRecord;
    try {
      next = await this.o.transitions.apply(rec, {
        state,
        events,
        data: data || status ? { ...(rec.data as object), ...(status ? { status } : {}), ...data } : undefined,
        reason: reasonOf(events),
        lease,
        release,
        revoke: how.revoke,
        acquire: how.acquire ? { owner: this.o.ownership.replicaId, ttlMs: this.o.leaseMs } : undefined,
        alongside: how.alongside,
        audit: how.audit,
      });
    } catch (err) {
      if (run) {
        run.releasing = false;
        if (isLeaseLost(err)) this.o.ownership.lost(rec.id, run, err);
      }
      throw err;
    }
    if (run && release) run.lease = undefined;
    if (state !== undefined)
      countTransition(this.o.metrics, rec.state, state, ((next.data as unknown as TaskData).history ?? []).length);
    this.o.changed(rec.id);
    return next;
  }

  /** Moves a task to WORKING for a new run, with that run's deadline. */
  working(rec: TaskRecord, message?: string, data?: Partial<TaskData>, how: ChangeHow = {}): Promise<TaskRecord> {
    const requested = (rec.data as unknown as TaskData).timeoutMs;
    const budget = Math.min(this.o.taskTimeoutMs, requested ?? Infinity);
    return this.change(
      rec,
      TaskState.TASK_STATE_WORKING,
      [statusEvent(TaskState.TASK_STATE_WORKING, message)],
      { ...data, runDeadline: Date.now() + budget },
      how,
    );
  }
}

type StatusJson = { state?: string; message?: { parts?: { text?: string }[] } };

/** The status of the last status event among `events` (stored JSON), if any. */
function statusOf(events: unknown[]): StatusJson | undefined {
  return (events as { statusUpdate?: { status?: StatusJson } }[]).findLast((e) => e.statusUpdate?.status)?.statusUpdate
    ?.status;
}

/**
 * Why a task ended (or waits for its caller), for the audit record of the
 * change; a question for a person is not repeated there, it may quote the
 * task's data.
 */
export function reasonOf(events: unknown[]): string | undefined {
  const status = statusOf(events);
  if (status?.state === 'TASK_STATE_INPUT_REQUIRED') return undefined;
  return (
    status?.message?.parts
      ?.map((p) => p.text ?? '')
      .join(' ')
      .trim() || undefined
  );
}
