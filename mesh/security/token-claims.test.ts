import { actorsOf, clientIdOf, rolesOf, scopesOf } from './token-verifier.js';

describe('what the mesh reads from a verified token', () => {
  test('scopes: `scope` (RFC 9068), `scp` as an array (Okta) or a space-separated string (Entra ID)', () => {
    expect(scopesOf({ scope: 'task.read  task.write' })).toEqual(['task.read', 'task.write']);
    expect(scopesOf({ scp: ['task.read', 7, 'task.write'] })).toEqual(['task.read', 'task.write']);
    expect(scopesOf({ scp: 'task.read task.write' })).toEqual(['task.read', 'task.write']);
    expect(scopesOf({})).toEqual([]);
  });

  test('the client: client_id, else azp (Keycloak), else appid (Entra ID v1)', () => {
    expect(clientIdOf({ client_id: 'a', azp: 'b', appid: 'c' })).toBe('a');
    expect(clientIdOf({ azp: 'b', appid: 'c' })).toBe('b');
    expect(clientIdOf({ appid: 'c' })).toBe('c');
    expect(clientIdOf({ client_id: 5 })).toBeUndefined();
  });

  test("a person's roles: the roles and groups claims, arrays or space-separated, without repeats", () => {
    expect(rolesOf({ roles: ['loan-approver', 'auditor'], groups: 'auditor staff' })).toEqual([
      'loan-approver',
      'auditor',
      'staff',
    ]);
    expect(rolesOf({ roles: [1, ''] })).toEqual([]);
  });

  test('the act chain, the current actor first', () => {
    expect(actorsOf({ act: { sub: 'lending/orchestrator', act: { sub: 'agentmesh/console' } } })).toEqual([
      'lending/orchestrator',
      'agentmesh/console',
    ]);
  });
});
