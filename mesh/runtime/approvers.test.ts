import { entitlement, isApproval, requiredApprovals, selfApproval, type ApproverRule } from './approvers.js';

const rule = (r: Partial<ApproverRule>): ApproverRule => ({
  approverRoles: [],
  approverScopes: [],
  requiredApprovals: 0,
  allowSelfApproval: false,
  ...r,
});
const task = { subject: 'ada', actors: ['spiffe://mesh/ns/web/sa/console'] };

describe('approvers', () => {
  test('a step naming no role or scope is a question; naming one, an approval', () => {
    expect(isApproval(rule({}))).toBe(false);
    expect(isApproval(rule({ approverRoles: ['loan-approver'] }))).toBe(true);
    expect(isApproval(rule({ approverScopes: ['loans.approve'] }))).toBe(true);
  });

  test('required approvals: 0 means 1', () => {
    expect(requiredApprovals(rule({}))).toBe(1);
    expect(requiredApprovals(rule({ requiredApprovals: 3 }))).toBe(3);
  });

  test('entitlement names the role (or scope) that entitles the caller', () => {
    const r = rule({ approverRoles: ['loan-approver', 'risk'], approverScopes: ['loans.approve'] });
    expect(entitlement(r, { roles: ['risk'], scopes: [] })).toBe('risk');
    expect(entitlement(r, { roles: [], scopes: ['loans.approve'] })).toBe('scope:loans.approve');
    expect(entitlement(r, { roles: ['loan-officer'], scopes: ['task.write'] })).toBeUndefined();
    expect(entitlement(rule({}), { roles: ['loan-approver'], scopes: [] })).toBeUndefined();
  });

  test('four eyes: neither the subject nor its act chain approves, unless self-approval is allowed', () => {
    const r = rule({ approverRoles: ['loan-approver'] });
    expect(selfApproval(r, task, { subject: 'ada' })).toMatch(/four eyes/);
    expect(selfApproval(r, task, { subject: 'spiffe://mesh/ns/web/sa/console' })).toMatch(/acted in sending/);
    expect(selfApproval(r, task, { subject: 'carol' })).toBeUndefined();
    expect(selfApproval(rule({ allowSelfApproval: true }), task, { subject: 'ada' })).toBeUndefined();
  });
});
