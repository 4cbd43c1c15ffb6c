// What a person reads about an approval: who may answer, who answered with
// which role and when, the deadline — the same words in the list, the
// approval page, the task view and the explanation.
import type { SessionInfo } from './api.js';
import { h } from './dom.js';
import type { ApprovalJson, InputRequestJson, TaskJson } from './types.js';

const VERBS: Record<string, string> = { approve: 'approved', decline: 'declined', reject: 'rejected' };

/** A time as a <time> element: the local date and time, the exact instant in `datetime`. */
export function timeOf(iso: string | undefined): HTMLElement | string {
  if (!iso) return '-';
  return h('time', { datetime: iso }, new Date(iso).toLocaleString());
}

/** "approved", "declined" or "answered “…”": what the answer did, a choice named by its verb. */
export function answerWords(answer: unknown): string {
  if (typeof answer === 'string') return VERBS[answer] ?? `answered “${answer}”`;
  return 'answered (data)';
}

/** "approved by carol (loan-approver) at 5 Dec 2026, 23:40:12". */
export function approvalLine(a: ApprovalJson): HTMLElement {
  return h(
    'span',
    { class: 'approval' },
    `${answerWords(a.answer)} by `,
    h('strong', {}, a.subject),
    a.role ? ` (${a.role})` : ' (the sender)',
    ' at ',
    timeOf(a.answeredAt),
  );
}

/** Every answer given to a task (or one of its steps), as a list; null when there is none. */
export function approvalsList(approvals: ApprovalJson[] | undefined, stepId?: string): HTMLElement | null {
  const shown = (approvals ?? []).filter((a) => !stepId || a.stepId === stepId);
  if (!shown.length) return null;
  return h(
    'ul',
    { class: 'approvals' },
    shown.map((a) => h('li', {}, stepId ? '' : `${a.stepId}: `, approvalLine(a))),
  );
}

/** Whether a waiting step is an approval (names approvers), not a question to the sender. */
export const isApproval = (r: InputRequestJson) => !!(r.approverRoles?.length || r.approverScopes?.length);

/** "role loan-approver or scope loans.approve". */
const holdersOf = (r: InputRequestJson) =>
  [...(r.approverRoles ?? []).map((x) => `role ${x}`), ...(r.approverScopes ?? []).map((x) => `scope ${x}`)].join(
    ' or ',
  );

/** "a person with role loan-approver; 2 distinct people to approve", or "ada (who sent it)" for a question. */
export function whoMayAnswer(r: InputRequestJson, task: TaskJson): string {
  if (!isApproval(r)) return `${task.subject ?? 'the sender'} (who sent it)`;
  const holders = holdersOf(r);
  const n = Math.max(1, r.requiredApprovals ?? 0);
  return `a person with ${holders}${n > 1 ? `; ${n} distinct people to approve` : ''}${r.allowSelfApproval ? '' : ', not the sender'}`;
}

/** "1 of 2" approvals given so far. */
export function approvalCount(r: InputRequestJson): string {
  return `${(r.approvals ?? []).length} of ${Math.max(1, r.requiredApprovals ?? 0)}`;
}

/**
 * Why the signed-in person is not offered this step, as far as the page can
 * tell from their session (the agent decides for real), or undefined when
 * nothing stands in their way.
 */
export function whyNotYou(r: InputRequestJson, task: TaskJson, s: SessionInfo): string | undefined {
  if (!isApproval(r))
    return s.user === task.subject ? undefined : `It is a question to ${task.subject}, who sent the task.`;
  if (!r.allowSelfApproval && s.user === task.subject)
    return 'You sent this task: another person must approve it (four eyes).';
  if ((r.approvals ?? []).some((a) => a.subject === s.user))
    return 'You have already answered this step; it needs other people now.';
  const roles = s.roles ?? [];
  if (
    !(r.approverRoles ?? []).some((x) => roles.includes(x)) &&
    !(r.approverScopes ?? []).some((x) => s.scopes.includes(x))
  )
    return `Only a person with ${holdersOf(r)} may answer; you hold ${roles.length ? `role ${roles.join(', ')}` : 'no role'}.`;
  return undefined;
}
