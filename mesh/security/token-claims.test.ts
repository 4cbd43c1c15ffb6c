import { mapClaims, PRESETS } from './claim-mapping.js';
import { actorsOf } from './token-verifier.js';

describe('what the mesh reads from a verified token, by preset', () => {
  test('agentmesh (default): `scope` or `scp` (string or array), client_id → azp → appid, roles ∪ groups', () => {
    const m = PRESETS.agentmesh.claims;
    expect(mapClaims({ sub: 'a', scope: 'task.read  task.write' }, m).scopes).toEqual(['task.read', 'task.write']);
    expect(mapClaims({ scp: ['task.read', 7, 'task.write'] }, m).scopes).toEqual(['task.read', 'task.write']);
    expect(mapClaims({ scp: 'task.read task.write' }, m).scopes).toEqual(['task.read', 'task.write']);
    expect(mapClaims({}, m).scopes).toEqual([]);
    expect(mapClaims({ client_id: 'a', azp: 'b', appid: 'c' }, m).clientId).toBe('a');
    expect(mapClaims({ azp: 'b', appid: 'c' }, m).clientId).toBe('b');
    expect(mapClaims({ appid: 'c' }, m).clientId).toBe('c');
    expect(mapClaims({ client_id: 5 }, m).clientId).toBeUndefined();
    expect(mapClaims({ roles: ['loan-approver', 'auditor'], groups: 'auditor staff' }, m).roles).toEqual([
      'loan-approver',
      'auditor',
      'staff',
    ]);
    expect(mapClaims({ roles: [1, ''] }, m).roles).toEqual([]);
  });

  test('entra: the person is `oid` (sub differs per application), application permissions in `roles` are scopes', () => {
    const claims = {
      sub: 'pairwise-per-app',
      oid: '00000000-0000-0000-0000-0000000000a1',
      scp: 'task.read task.write',
      roles: ['loan-approver'],
      azp: 'client-guid',
    };
    expect(mapClaims(claims, PRESETS.entra.claims)).toEqual({
      subject: '00000000-0000-0000-0000-0000000000a1',
      scopes: ['task.read', 'task.write', 'loan-approver'],
      roles: ['loan-approver'],
      clientId: 'client-guid',
      workload: false,
    });
    // An application-only token: no scp, its permissions in roles are scopes, never a person's roles.
    expect(mapClaims({ sub: 'sp', oid: 'sp', roles: ['loans.approve'], appid: 'app' }, PRESETS.entra.claims)).toEqual({
      subject: 'sp',
      scopes: ['loans.approve'],
      roles: [],
      clientId: 'app',
      workload: true,
    });
    expect(mapClaims({ oid: 'sp', scp: 'x', idtyp: 'app', azp: 'app' }, PRESETS.entra.claims).workload).toBe(true);
  });

  test('okta: `scp` array, the client in `cid`, people in `groups`', () => {
    expect(
      mapClaims({ sub: 'ada@bank.example', scp: ['task.read'], cid: '0oa1', groups: ['auditor'] }, PRESETS.okta.claims),
    ).toEqual({
      subject: 'ada@bank.example',
      scopes: ['task.read'],
      roles: ['auditor'],
      clientId: '0oa1',
      workload: false,
    });
    // Okta's client credentials token names the client as its subject.
    expect(mapClaims({ sub: '0oa1', cid: '0oa1', scp: ['task.read'] }, PRESETS.okta.claims).workload).toBe(true);
  });

  test('keycloak: realm roles from the nested `realm_access.roles`, the client in `azp`', () => {
    expect(
      mapClaims(
        { sub: 'u-1', scope: 'openid task.read', azp: 'console', realm_access: { roles: ['loan-approver'] } },
        PRESETS.keycloak.claims,
      ),
    ).toEqual({
      subject: 'u-1',
      scopes: ['openid', 'task.read'],
      roles: ['loan-approver'],
      clientId: 'console',
      workload: false,
    });
    const serviceAccount = {
      sub: 'f3a1',
      azp: 'tools',
      preferred_username: 'service-account-tools',
      realm_access: { roles: ['loan-approver'] },
    };
    expect(mapClaims(serviceAccount, PRESETS.keycloak.claims)).toMatchObject({ workload: true, roles: [] });
    expect(mapClaims({ sub: 'u-1', realm_access: 'not-an-object' }, PRESETS.keycloak.claims).roles).toEqual([]);
  });

  test('a dotted path reads own properties only, never a prototype', () => {
    const mapping = { subject: ['constructor.name', 'sub'], scopes: ['__proto__.x'], roles: [], clientId: [] };
    expect(mapClaims({ sub: 'a' }, mapping)).toMatchObject({ subject: 'a', scopes: [] });
  });

  test('the act chain, the current actor first', () => {
    expect(actorsOf({ act: { sub: 'lending/orchestrator', act: { sub: 'agentmesh/console' } } })).toEqual([
      'lending/orchestrator',
      'agentmesh/console',
    ]);
  });
});
