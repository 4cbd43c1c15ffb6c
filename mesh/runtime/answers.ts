import { Approval, InputRequest, type Message } from '../../gen/agentmesh/v1/task.js';
import type { Principal } from '../core/index.js';
import { Code, isMeshError } from '../core/index.js';
import {
  approvedEarlier,
  entitlement,
  isApproval,
  notAPerson,
  requiredApprovals,
  selfApproval,
  type TaskParties,
} from './approvers.js';
import { compileSchema } from './schema-validator.js';

/** An answer the runtime refuses: the status to return, and a reason for the audit trail that quotes no answer data. */
export interface RefusedAnswer {
  accepted: false;
  code: Code;
  message: string;
  reason: string;
  /** The deadline passed: the task is to fail as well. */
  expired?: boolean;
}

/** An answer the runtime records, and what it does to the step. */
export interface AcceptedAnswer {
  accepted: true;
  /** The answer given (the choice, or the data or text). */
  answer: unknown;
  /** This answer, as recorded on the task. */
  approval: Approval;
  /** The step's answers so far, this one last (InputRequest.approvals). */
  approvals: Approval[];
  /** The step is answered: the task runs on with `answer`. Else it keeps waiting for more approvals. */
  settled: boolean;
  /** Distinct people who gave the first choice, this answer included, and how many it takes. */
  count: number;
  needed: number;
  /** For the audit trail and the status event: the choice (never free-form data), the role, the count. */
  reason: string;
}

/** What judgeAnswer needs: the question waited for (stored InputRequest JSON), the answer, the task's parties, the caller. */
export interface AnswerInput {
  /** TaskStatus.inputRequest as stored (JSON), undefined when the task waits for nothing. */
  waiting: unknown;
  stepId: string;
  message: Message | undefined;
  task: TaskParties;
  caller: Pick<Principal, 'subject' | 'clientId' | 'roles' | 'scopes' | 'actors' | 'workload'>;
  now: Date;
}

const refuse = (code: Code, message: string, reason = message, expired = false): RefusedAnswer => ({
  accepted: false,
  code,
  message,
  reason,
  ...(expired ? { expired } : {}),
});

/** The answer a message carries: its first data part, else its first text part. */
export function answerOf(message: Message | undefined): unknown {
  const part = message?.parts.find((p) => p.content?.$case === 'data' || p.content?.$case === 'text')?.content;
  return part?.$case === 'data' ? part.data : part?.$case === 'text' ? part.text : undefined;
}

/**
 * Decides an answer to a waiting human step, without touching anything:
 * who may answer (the subject for a question; an entitled person, not the
 * subject or its act chain, for an approval), whether the deadline passed,
 * whether the answer fits the step, and whether it settles the step (the
 * first choice needs N distinct people, any other choice settles it at once).
 */
export function judgeAnswer(input: AnswerInput): AcceptedAnswer | RefusedAnswer {
  const { stepId, caller, task, now } = input;
  if (!input.waiting) return refuse(Code.INVALID_ARGUMENT, 'step_id: the task waits for nothing');
  const request = InputRequest.fromJSON(input.waiting);
  if (request.stepId !== stepId)
    return refuse(
      Code.INVALID_ARGUMENT,
      `step_id: the task waits for ${request.stepId}, not ${stepId}`,
      `the task waits for another step`,
    );
  let role = '';
  if (isApproval(request)) {
    // Four eyes first: the sender is never an approver of their own task, whatever roles they hold.
    const self = selfApproval(request, task, caller);
    if (self) return refuse(Code.PERMISSION_DENIED, self);
    const machine = notAPerson(caller);
    if (machine) return refuse(Code.PERMISSION_DENIED, machine);
    const again = approvedEarlier(request, stepId, task, caller);
    if (again) return refuse(Code.PERMISSION_DENIED, again);
    const entitled = entitlement(request, caller);
    if (!entitled) {
      const needed = [...request.approverRoles, ...request.approverScopes.map((s) => `scope:${s}`)].join(', ');
      return refuse(Code.PERMISSION_DENIED, `step ${stepId} is an approval: answering it needs one of ${needed}`);
    }
    role = entitled;
  } else if (caller.subject !== task.subject) {
    return refuse(
      Code.PERMISSION_DENIED,
      `step ${stepId} is a question to ${task.subject}: only they answer it`,
      `step ${stepId} is a question to the task's subject`,
    );
  }
  if (request.expiresAt && request.expiresAt.getTime() <= now.getTime()) {
    const at = request.expiresAt.toISOString();
    return refuse(Code.FAILED_PRECONDITION, `the approval expired at ${at}`, `expired at ${at}`, true);
  }
  const earlier = request.approvals.filter((a) => a.stepId === stepId);
  if (earlier.some((a) => a.subject === caller.subject))
    return refuse(Code.FAILED_PRECONDITION, `${caller.subject} already answered step ${stepId}: it counts once`);
  const answer = answerOf(input.message);
  if (answer === undefined) return refuse(Code.INVALID_ARGUMENT, 'message.parts: an answer (text or data) is required');
  const { choices } = request;
  if (choices.length && !choices.includes(String(answer)))
    return refuse(
      Code.INVALID_ARGUMENT,
      `message: the answer must be one of ${choices.join(', ')}`,
      `not one of ${choices.join(', ')}`,
    );
  try {
    compileSchema(request.inputSchema).assert(answer, 'answer');
  } catch (err) {
    if (!isMeshError(err)) throw err;
    return refuse(err.code, err.message, 'the answer does not match the step input schema');
  }
  const approval = Approval.fromPartial({
    stepId,
    subject: caller.subject,
    role,
    answer,
    answeredAt: now,
    actors: caller.actors,
  });
  const approvals = [...earlier, approval];
  const needed = isApproval(request) ? requiredApprovals(request) : 1;
  // With no choices every answer counts toward N; with choices only the first does, and any other settles at once.
  const counts = (a: Approval) => !choices.length || String(a.answer) === choices[0];
  const count = new Set(approvals.filter(counts).map((a) => a.subject)).size;
  const settled = !counts(approval) || count >= needed;
  const said = choices.length ? String(answer) : 'answered';
  const as = role ? ` as ${role}` : '';
  return {
    accepted: true,
    answer,
    approval,
    approvals,
    settled,
    count,
    needed,
    reason: counts(approval) && needed > 1 ? `${said}${as} (${count} of ${needed})` : `${said}${as}`,
  };
}
