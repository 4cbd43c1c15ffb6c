import { Approval, InputRequest, Message, TaskState } from '../../gen/agentmesh/v1/task.js';
import type { AgentCard } from '../../gen/agentmesh/v1/card.js';
import type { Principal } from '../core/index.js';
import { Code, isMeshError, MeshError } from '../core/index.js';
import type { Store, TaskLease, TaskRecord } from '../state/index.js';
import type { AuditEvent } from '../telemetry/index.js';
import { judgeAnswer, type AcceptedAnswer, type RefusedAnswer } from './answers.js';
import type { AuditSink } from './audited-transitions.js';
import { reasonOf, type TaskChanges } from './task-changes.js';
import { inputRequestJson, statusEvent, type TaskData } from './task-codec.js';
import type { TaskOwnership } from './task-ownership.js';

/** What HumanAnswers works with: the runtime's store, changes, audit trail, and how it runs a task on. */
export interface HumanAnswersOptions {
  card: AgentCard;
  store: Store;
  audit?: AuditSink;
  changes: TaskChanges;
  ownership: TaskOwnership;
  /** Keeps the answerer's token (see AgentRuntime.remember). */
  remember(task: TaskRecord, caller: Principal): boolean;
  /** Runs the task on under `lease`, once its last run in this process (if any) has finished. */
  start(taskId: string, lease: TaskLease): void;
}

/**
 * The answers to a task's human steps (questions and approvals): judged,
 * audited, counted or settling the step, and the failure of a task whose
 * answer deadline passed.
 */
export class HumanAnswers {
  constructor(private readonly o: HumanAnswersOptions) {}

  /**
   * Answers the human step a task waits for: a question by the task's
   * subject, an approval by entitled people other than the subject and its
   * act chain (N distinct ones for the first choice, one for any other). An
   * answer that settles the step resumes the task; one that does not leaves it
   * waiting with the answer counted. Every answer, accepted or refused, is
   * audited; a refused one changes nothing (but one past the deadline fails
   * the task).
   */
  async provideInput(
    taskId: string,
    stepId: string,
    message: Message | undefined,
    expectedVersion: number,
    caller: Principal,
  ): Promise<TaskRecord> {
    // Compare-and-set on the task's version: a concurrent answer makes the loser re-read and judge again.
    for (let attempt = 1; ; attempt++) {
      const rec = await this.o.store.tasks.get(taskId);
      const d = rec.data as unknown as TaskData;
      const waiting = inputRequestJson(rec) as { stepId?: string } | undefined;
      // Moved on (here on a retry: another answer, a cancel or the deadline won the race): say what happened.
      if (rec.state !== TaskState.TASK_STATE_INPUT_REQUIRED || (attempt > 1 && waiting?.stepId !== stepId))
        throw await this.refused(rec, stepId, caller, movedOn(rec, stepId));
      // A caller's precondition holds on every attempt: a retry never answers a version they did not see.
      if (expectedVersion && expectedVersion !== rec.version)
        throw new MeshError(Code.ABORTED, `task ${taskId} is at version ${rec.version}, not ${expectedVersion}`);
      const judged = judgeAnswer({ waiting, stepId, message, task: d, caller, now: await this.o.store.now() });
      if (!judged.accepted) {
        if (judged.expired) await this.expire(rec).catch(() => undefined);
        throw await this.refused(rec, stepId, caller, judged);
      }
      try {
        return await this.accept(rec, stepId, message, caller, judged);
      } catch (err) {
        // Another answer got there first: its version (ABORTED) or, settling the same step in the same
        // moment on another replica, its answer record (ALREADY_EXISTS). Judge again against what it wrote.
        const raced = isMeshError(err) && (err.code === Code.ABORTED || err.code === Code.ALREADY_EXISTS);
        if (!raced || attempt >= 10) throw err;
      }
    }
  }

  // Writes an accepted answer: counted while the step needs more approvals, else the task resumes.
  private async accept(
    rec: TaskRecord,
    stepId: string,
    message: Message | undefined,
    caller: Principal,
    judged: AcceptedAnswer,
  ): Promise<TaskRecord> {
    const taskId = rec.id;
    const d = rec.data as unknown as TaskData;
    const approval = Approval.toJSON(judged.approval) as Record<string, unknown>;
    const approvals = [...(d.approvals ?? []), approval];
    const said = Message.toJSON({
      ...(message ?? Message.fromPartial({})),
      taskId,
      metadata: { ...message?.metadata, approval },
    });
    const history = [...(d.history ?? []), said];
    // The approval is on the record before it counts (a write that then fails gets a second record).
    const audit = this.answerRecord(rec, stepId, caller, 'approval', 'OK', judged.reason);
    let next: TaskRecord;
    if (!judged.settled) {
      const request = InputRequest.fromJSON(inputRequestJson(rec));
      const summary = `${judged.count} of ${judged.needed} approvals: ${caller.subject} chose ${String(judged.answer)}`;
      next = await this.o.changes.change(
        rec,
        undefined,
        [statusEvent(TaskState.TASK_STATE_INPUT_REQUIRED, summary, { ...request, approvals: judged.approvals })],
        { history, approvals },
        { audit },
      );
    } else {
      // The answer, the move to WORKING and this replica's lease in one write: whichever replica
      // received the answer runs the task on, at once.
      next = await this.o.changes.working(
        rec,
        `answered by ${caller.subject}`,
        { history, approvals },
        {
          acquire: true,
          audit,
          alongside: async (tx) => {
            await tx.records.put({
              id: `${taskId}:answer:${stepId}`,
              taskId,
              kind: 'answer',
              record: { [stepId]: judged.answer },
              principal: caller.subject,
            });
          },
        },
      );
    }
    this.o.remember(next, caller);
    if (!judged.settled) return next;
    const lease = this.o.ownership.lease(next.fencing);
    // The run that asked may still be finishing (its lease already given up): started again once it has.
    this.o.start(taskId, lease);
    return next;
  }

  /**
   * Audits an answer by a caller who may not see the task (they are told it
   * does not exist): the record says why it would have been refused.
   */
  async refuseUnseen(rec: TaskRecord, stepId: string, message: Message | undefined, caller: Principal): Promise<void> {
    const d = rec.data as unknown as TaskData;
    const waiting = inputRequestJson(rec);
    const judged =
      rec.state === TaskState.TASK_STATE_INPUT_REQUIRED
        ? judgeAnswer({ waiting, stepId, message, task: d, caller, now: await this.o.store.now() })
        : undefined;
    const why = judged && !judged.accepted ? judged.reason : 'the task is not visible to them';
    await this.auditAnswer(rec, stepId, caller, 'approval_refused', 'NOT_FOUND', `${why} (told it does not exist)`);
  }

  /** Audits an answer refused before it reached the runtime's rules (an auditor's: they change nothing). */
  async refuseAnswer(rec: TaskRecord, stepId: string, caller: Principal, code: Code, reason: string): Promise<void> {
    await this.auditAnswer(rec, stepId, caller, 'approval_refused', Code[code], reason);
  }

  // Audits a refused answer (the state is unchanged) and returns the error to throw.
  private async refused(rec: TaskRecord, stepId: string, caller: Principal, why: RefusedAnswer): Promise<MeshError> {
    await this.auditAnswer(rec, stepId, caller, 'approval_refused', Code[why.code], why.reason);
    return new MeshError(why.code, why.message);
  }

  private async auditAnswer(...args: Parameters<HumanAnswers['answerRecord']>): Promise<void> {
    await this.o.audit?.append(this.answerRecord(...args));
  }

  // An audit record of an answer, in the answerer's name; the reason names a choice at most, never answer data.
  private answerRecord(
    rec: TaskRecord,
    stepId: string,
    caller: Principal,
    kind: 'approval' | 'approval_refused',
    outcome: string,
    reason: string,
  ): AuditEvent {
    const d = rec.data as unknown as TaskData;
    return {
      kind,
      service: this.o.card.name,
      subject: caller.subject,
      actors: caller.actors.length ? caller.actors : undefined,
      peer: this.o.card.identity || undefined,
      resource: stepId,
      outcome,
      reason,
      task_id: rec.id,
      trace_id: d.traceId || undefined,
    };
  }

  /** Fails a task whose step's answer deadline passed (compare-and-set: ABORTED when it moved on meanwhile). */
  async expire(rec: TaskRecord): Promise<void> {
    const waiting = InputRequest.fromJSON(inputRequestJson(rec));
    await this.o.changes.change(rec, TaskState.TASK_STATE_FAILED, [
      statusEvent(
        TaskState.TASK_STATE_FAILED,
        `step ${waiting.stepId} expired at ${waiting.expiresAt?.toISOString() ?? '?'} without the approvals it needs`,
      ),
    ]);
  }
}

/** Why a task no longer takes an answer to `stepId`: answered (by whom), or in which state and why. */
function movedOn(rec: TaskRecord, stepId: string): RefusedAnswer {
  const d = rec.data as unknown as TaskData;
  const who = [
    ...new Set(
      (d.approvals ?? [])
        .map((a) => a as { stepId?: string; subject?: string })
        .filter((a) => a.stepId === stepId && a.subject)
        .map((a) => a.subject!),
    ),
  ].join(', ');
  const state = TaskState[rec.state].replace('TASK_STATE_', '');
  // Why it failed or was canceled (a deadline, a person); a question's text is not repeated: it may quote the task's data.
  const ended = [TaskState.TASK_STATE_FAILED, TaskState.TASK_STATE_CANCELED].includes(rec.state);
  const status = ended ? reasonOf([{ statusUpdate: { status: d.status } }]) : undefined;
  const why = ended
    ? `the task is ${state}${status ? `: ${status}` : ''}`
    : who
      ? `step ${stepId} was already answered by ${who}`
      : `the task is ${state}`;
  return {
    accepted: false,
    code: Code.FAILED_PRECONDITION,
    message: `task ${rec.id} is not waiting for an answer to ${stepId}: ${why}`,
    reason: why,
  };
}
