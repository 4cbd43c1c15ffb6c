import { InputRequest, TaskState } from '../../gen/agentmesh/v1/task.js';
import type { Principal } from '../core/index.js';
import type { TaskRecord } from '../state/index.js';
import { approvedEarlier, entitlement, isApproval, notAPerson, selfApproval } from './approvers.js';
import { inputRequestJson, type TaskData } from './task-codec.js';

/**
 * What a caller may do with a task:
 * - `steer`: the task's subject — reads it (recursively), cancels it, answers its questions;
 * - `audit`: an auditor — reads it and every explanation, recursively, and changes nothing;
 * - `answer`: entitled to answer the approval it waits for — reads this task and may answer;
 * - `read`: answered it earlier, or holds a role an approval of it was put to (they see how it ended) —
 *   reads this task (not its children);
 * - `none`: nothing; told the task does not exist.
 */
export type TaskAccess = 'steer' | 'audit' | 'answer' | 'read' | 'none';

/** The roles that make a caller an auditor when none are configured (AGENTMESH_AUDITOR_ROLES). */
export const DEFAULT_AUDITOR_ROLES: readonly string[] = ['auditor'];

/** The message of every change an auditor attempts: segregation of duties. */
export const AUDITORS_CHANGE_NOTHING = 'auditors read and change nothing';

/** Whether the caller holds one of the auditor roles. */
export function isAuditor(caller: Pick<Principal, 'roles'>, auditorRoles: readonly string[]): boolean {
  return auditorRoles.some((r) => caller.roles.includes(r));
}

/** The input request a task waits for, when it is INPUT_REQUIRED. */
export function waitingRequest(task: TaskRecord): InputRequest | undefined {
  if (task.state !== TaskState.TASK_STATE_INPUT_REQUIRED) return undefined;
  const raw = inputRequestJson(task);
  return raw ? InputRequest.fromJSON(raw) : undefined;
}

/** Decides what `caller` may do with `task`; the policy in one place, so every RPC and ListTasks agree. */
export function taskAccess(task: TaskRecord, caller: Principal, auditorRoles: readonly string[]): TaskAccess {
  // Auditors first: an auditor who once sent a task (before holding the role) still changes nothing.
  if (isAuditor(caller, auditorRoles)) return 'audit';
  const d = task.data as unknown as TaskData;
  if (d.subject === caller.subject) return 'steer';
  const waiting = waitingRequest(task);
  // Approvers are people (never a workload's own token, nor an agent acting for a person): see notAPerson.
  const person = !notAPerson(caller);
  if (person && waiting && isApproval(waiting) && entitlement(waiting, caller)) return 'answer';
  const answered = (d.approvals ?? []).some((a) => (a as { subject?: unknown }).subject === caller.subject);
  const asked =
    person && d.askedOf && entitlement({ approverRoles: d.askedOf.roles, approverScopes: d.askedOf.scopes }, caller);
  return answered || asked ? 'read' : 'none';
}

/**
 * Whether the task waits for an answer `caller` may give now (their inbox):
 * a question to its subject, or an approval they are entitled to, not barred
 * from by segregation of duties, not expired, and not given by them yet.
 */
export function waitsFor(
  task: TaskRecord,
  caller: Principal,
  auditorRoles: readonly string[],
  now = new Date(),
): boolean {
  const waiting = waitingRequest(task);
  if (!waiting || isAuditor(caller, auditorRoles)) return false;
  // Past its deadline the step can no longer be answered: it waits for nobody.
  if (waiting.expiresAt && waiting.expiresAt <= now) return false;
  const d = task.data as unknown as TaskData;
  if (!isApproval(waiting)) return d.subject === caller.subject;
  if (!entitlement(waiting, caller) || notAPerson(caller)) return false;
  if (selfApproval(waiting, { subject: d.subject, actors: d.actors }, caller)) return false;
  if (approvedEarlier(waiting, waiting.stepId, { subject: d.subject, approvals: d.approvals }, caller)) return false;
  return !waiting.approvals.some((a) => a.subject === caller.subject);
}
