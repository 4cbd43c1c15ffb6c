// How the CLI says who may answer a human step, who did, and until when: shared by the inbox,
// the task views and explain, so that a person reads the same words everywhere.
import type { Approval, InputRequest } from '../../gen/agentmesh/v1/task.js';

/** A time as people and scripts read it alike: ISO 8601 in UTC, to the second. */
export const when = (d: Date | undefined): string => (d ? d.toISOString().replace(/\.\d{3}Z$/, 'Z') : '-');

/** An answer as given: a choice as itself, data as compact JSON. */
export const answerText = (answer: unknown): string =>
  typeof answer === 'string' ? answer : (JSON.stringify(answer) ?? 'null');

/** Whether the step is an approval (named approvers) rather than a question to the task's own subject. */
export const isApproval = (r: InputRequest): boolean => r.approverRoles.length > 0 || r.approverScopes.length > 0;

/** Distinct people needed for the first choice (0 means 1). */
export const needed = (r: InputRequest): number => Math.max(1, r.requiredApprovals);

/** "1 of 2 approvals": how many people gave the first choice so far. */
export function approvalCount(r: InputRequest): string {
  const first = r.choices[0];
  const given = r.approvals.filter((a) => first === undefined || a.answer === first).length;
  return `${given} of ${needed(r)} approval${needed(r) > 1 ? 's' : ''}`;
}

/** Who may answer, in one line: the roles or scopes, how many people, and who may not (four eyes). */
export function whoMayAnswer(r: InputRequest, subject: string): string {
  if (!isApproval(r)) return `${subject || 'the task\u2019s subject'} (a question to the person the task runs for)`;
  const entitled = [
    ...(r.approverRoles.length ? [`role ${r.approverRoles.join(' or ')}`] : []),
    ...(r.approverScopes.length ? [`scope ${r.approverScopes.join(' or ')}`] : []),
  ].join(' or ');
  const count =
    needed(r) > 1
      ? `; ${needed(r)} distinct people to ${r.choices[0]}, one to ${r.choices.slice(1).join(' or ') || 'refuse'}`
      : '';
  const others = r.allowSelfApproval
    ? ''
    : `; never ${subject || 'the task\u2019s subject'} or the agents acting for them (four eyes)`;
  return `${entitled}${count}${others}`;
}

/** One recorded answer: who, which answer, with which role, when, and through what. */
export function approvalLine(a: Approval): string {
  const role = a.role ? `as ${a.role}` : 'as the task\u2019s subject';
  const through = a.actors.length ? ` through ${a.actors.join(' > ')}` : '';
  return `${a.subject} answered ${answerText(a.answer)} ${role} at ${when(a.answeredAt)}${through}`;
}

/** The deadline and how long is left (or that it has passed). */
export function deadlineText(expiresAt: Date | undefined, now = Date.now()): string {
  if (!expiresAt) return 'none';
  const left = expiresAt.getTime() - now;
  if (left <= 0) return `${when(expiresAt)} (expired)`;
  const minutes = Math.floor(left / 60_000);
  const span = minutes >= 60 ? `${Math.floor(minutes / 60)} h ${minutes % 60} min` : `${minutes} min`;
  return `${when(expiresAt)} (in ${span})`;
}
