import type { InputRequest } from '../../gen/agentmesh/v1/task.js';
import type { Principal } from '../core/index.js';

/** Who may answer a human step: the InputRequest's approver fields (a HumanTarget's, as asked). */
export type ApproverRule = Pick<
  InputRequest,
  'approverRoles' | 'approverScopes' | 'requiredApprovals' | 'allowSelfApproval'
>;

/** Who a task runs for and through whom: the identities segregation of duties keeps from answering it. */
export interface TaskParties {
  subject: string;
  /** The act chain of the request that created the task, the current actor first. */
  actors?: string[];
  /** The answers given to the task so far (wire Approval JSON): who approved its earlier steps. */
  approvals?: unknown[];
}

/** Whether the step is an approval (names approvers) rather than a question to the task's own subject. */
export function isApproval(rule: ApproverRule): boolean {
  return rule.approverRoles.length > 0 || rule.approverScopes.length > 0;
}

/** How many distinct people must give the first choice. */
export function requiredApprovals(rule: ApproverRule): number {
  return Math.max(1, rule.requiredApprovals);
}

/**
 * The role (or "scope:<name>") that entitles `caller` to answer an approval,
 * or undefined when nothing they hold does. A question (no approvers named)
 * entitles nobody through a role: only the task's subject answers it.
 */
export function entitlement(
  rule: Pick<ApproverRule, 'approverRoles' | 'approverScopes'>,
  caller: Pick<Principal, 'roles' | 'scopes'>,
): string | undefined {
  const role = rule.approverRoles.find((r) => caller.roles.includes(r));
  if (role) return role;
  const scope = rule.approverScopes.find((s) => caller.scopes.includes(s));
  return scope ? `scope:${scope}` : undefined;
}

/**
 * Why `caller` may not answer this task's approval under segregation of
 * duties (they are its subject or in its act chain), or undefined.
 */
export function selfApproval(
  rule: ApproverRule,
  task: TaskParties,
  caller: Pick<Principal, 'subject'>,
): string | undefined {
  if (rule.allowSelfApproval) return undefined;
  if (caller.subject === task.subject) return `${caller.subject} sent this task and may not approve it (four eyes)`;
  if (task.actors?.includes(caller.subject))
    return `${caller.subject} acted in sending this task and may not approve it (four eyes)`;
  return undefined;
}

/**
 * Why `caller` cannot answer an approval as a person, or undefined. An
 * approval comes from a person directly (their own token, or one a front end
 * such as the CLI or console obtained for them): never from a workload's own
 * token (a scope would otherwise let a service approve), nor through an agent
 * that exchanged a person's token (an agent must not approve for them).
 */
export function notAPerson(
  caller: Pick<Principal, 'subject' | 'clientId' | 'actors'> & { workload?: boolean },
): string | undefined {
  if (caller.workload || caller.subject === caller.clientId || caller.subject.startsWith('spiffe://'))
    return `${caller.subject} is a workload: approvals come from people`;
  if (caller.actors.length > 1)
    return `${caller.actors[0]} acts for ${caller.subject} here: approvals come from the person, not through an agent`;
  return undefined;
}

/**
 * Why `caller` may not approve this step because they approved another
 * approval step of the same task, or undefined: each level of a multi-level
 * approval is another person's (unless the step allows self-approval).
 */
export function approvedEarlier(
  rule: ApproverRule,
  stepId: string,
  task: TaskParties,
  caller: Pick<Principal, 'subject'>,
): string | undefined {
  if (rule.allowSelfApproval) return undefined;
  const earlier = (task.approvals ?? [])
    .map((a) => a as { stepId?: string; subject?: string; role?: string })
    .find((a) => a.stepId !== stepId && a.subject === caller.subject && a.role);
  return earlier
    ? `${caller.subject} approved step ${earlier.stepId} of this task: step ${stepId} needs another person (four eyes)`
    : undefined;
}
