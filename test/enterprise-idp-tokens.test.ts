// Item 1 of issue 19 against a real OpenID provider: a service configured from the environment
// reads the principal from Entra ID, Okta, Keycloak and RFC 9068 access tokens by its preset.
import { createLocalMeshFiles } from './helpers/local-auth.js';
import { MeshEnv, startSecuredService, type SecuredService } from './helpers/idp-service.js';
import { startIdp, type TestIdp } from './helpers/oidc-idp.js';
import { notAPerson } from '../mesh/runtime/approvers.js';

const CALLBACK = 'https://app.example/callback';
/** A client of the IdP that may do both client credentials and log people in. */
const client = (id: string) => ({
  client_id: id,
  client_secret: `${id}-secret-0123456789`,
  grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
  redirect_uris: [CALLBACK],
  response_types: ['code' as const],
});

let mesh: MeshEnv;

beforeAll(async () => {
  const files = await createLocalMeshFiles([]);
  files.secrets['agentmesh/clients/test/agent'] = { client_secret: 'test/agent-secret-0123456789' };
  files.writeSecrets();
  mesh = new MeshEnv(files);
}, 60_000);

afterAll(() => mesh?.files.cleanup());

async function idpOf(o: Omit<Parameters<typeof startIdp>[0], 'tls' | 'clients'>) {
  const tls = mesh.files.issue('agentmesh/idp');
  return startIdp({ tls: { ...tls, ca: mesh.caFile }, clients: [client('test/caller')], ...o });
}

const accessToken = (answer: Record<string, unknown>) => {
  if (typeof answer.access_token !== 'string') throw new Error(`no token: ${JSON.stringify(answer)}`);
  return answer.access_token;
};

describe('Entra ID shape (preset entra, api://agentmesh-{name})', () => {
  let idp: TestIdp;
  let service: SecuredService;
  beforeAll(async () => {
    idp = await idpOf({
      shape: 'entra',
      oidcOnly: true,
      people: { ada: { roles: ['approver'] } },
      appRoles: { 'test/caller': ['task.read'] },
    });
    service = await startSecuredService(
      mesh,
      mesh.envOf('test/agent', {
        AGENTMESH_OAUTH_ISSUER: idp.issuer,
        AGENTMESH_OAUTH_PRESET: 'entra',
        AGENTMESH_OAUTH_AUDIENCE: 'api://agentmesh-{name}',
      }),
    );
  }, 60_000);
  afterAll(async () => {
    await service?.close();
    await idp?.close();
  });

  test('an app-only token: its application permissions (roles) are its scopes', async () => {
    const token = accessToken(
      await idp.token('test/caller', 'test/caller-secret-0123456789', {
        grant_type: 'client_credentials',
        scope: 'api://agentmesh-agent/.default',
      }),
    );
    const principal = await service.getTask(token);
    expect(principal).toMatchObject({
      subject: 'sp-test/caller',
      clientId: 'test/caller',
      scopes: ['task.read'],
      roles: [],
      workload: true,
    });
    // An application permission is a scope, never a person's role: a workload cannot approve.
    expect(notAPerson(principal)).toMatch(/is a workload: approvals come from people/);
  });

  test('a person: the subject is oid (not the pairwise sub), scopes from scp, roles', async () => {
    const answer = await idp.login('ada', {
      clientId: 'test/caller',
      clientSecret: 'test/caller-secret-0123456789',
      redirectUri: CALLBACK,
      resource: 'api://agentmesh-agent',
      scope: 'openid offline_access task.read',
    });
    const principal = await service.getTask(accessToken(answer));
    expect(principal.claims.sub).not.toBe('ada');
    expect(principal).toMatchObject({ subject: 'ada', clientId: 'test/caller', roles: ['approver'], workload: false });
    expect(principal.scopes).toContain('task.read');
    expect(notAPerson(principal)).toBeUndefined();
  });
});

describe('Okta shape (preset okta, one audience for every service)', () => {
  let idp: TestIdp;
  let service: SecuredService;
  beforeAll(async () => {
    idp = await idpOf({ shape: 'okta', defaultResource: 'api://default', people: { ada: { roles: ['approver'] } } });
    service = await startSecuredService(
      mesh,
      mesh.envOf('test/agent', {
        AGENTMESH_OAUTH_ISSUER: idp.issuer,
        AGENTMESH_OAUTH_PRESET: 'okta',
        AGENTMESH_OAUTH_AUDIENCE: 'api://default',
      }),
    );
  }, 60_000);
  afterAll(async () => {
    await service?.close();
    await idp?.close();
  });

  test('a workload token: scopes from scp, the client from cid', async () => {
    const token = accessToken(
      await idp.token('test/caller', 'test/caller-secret-0123456789', {
        grant_type: 'client_credentials',
        scope: 'task.read',
      }),
    );
    const principal = await service.getTask(token);
    expect(principal).toMatchObject({ clientId: 'test/caller', scopes: ['task.read'], roles: [] });
    expect(principal.claims.aud).toBe('api://default');
  });

  test('a person: groups are the roles', async () => {
    const answer = await idp.login('ada', {
      clientId: 'test/caller',
      clientSecret: 'test/caller-secret-0123456789',
      redirectUri: CALLBACK,
      scope: 'openid offline_access task.read',
    });
    const principal = await service.getTask(accessToken(answer));
    expect(principal).toMatchObject({ subject: 'ada', clientId: 'test/caller', roles: ['approver'] });
    expect(principal.scopes).toContain('task.read');
  });
});

describe('Keycloak shape (preset keycloak)', () => {
  let idp: TestIdp;
  let service: SecuredService;
  const audience = 'https://agent.test.bank.example';
  beforeAll(async () => {
    idp = await idpOf({ shape: 'keycloak', people: { ada: { roles: ['approver', 'auditor'] } } });
    service = await startSecuredService(
      mesh,
      mesh.envOf('test/agent', {
        AGENTMESH_OAUTH_ISSUER: idp.issuer,
        AGENTMESH_OAUTH_PRESET: 'keycloak',
        AGENTMESH_OAUTH_AUDIENCE: 'https://{name}.{namespace}.bank.example',
      }),
    );
  }, 60_000);
  afterAll(async () => {
    await service?.close();
    await idp?.close();
  });

  test('a person: realm_access.roles are the roles, azp the client', async () => {
    const answer = await idp.login('ada', {
      clientId: 'test/caller',
      clientSecret: 'test/caller-secret-0123456789',
      redirectUri: CALLBACK,
      resource: audience,
      scope: 'openid offline_access task.read',
    });
    const principal = await service.getTask(accessToken(answer));
    expect(principal).toMatchObject({
      subject: 'ada',
      clientId: 'test/caller',
      roles: ['approver', 'auditor'],
      workload: false,
    });
    expect(principal.scopes).toContain('task.read');
  });

  test('a workload token (its service-account user): a workload, azp the client, no person roles', async () => {
    const token = accessToken(
      await idp.token('test/caller', 'test/caller-secret-0123456789', {
        grant_type: 'client_credentials',
        resource: audience,
        scope: 'task.read',
      }),
    );
    const principal = await service.getTask(token);
    expect(principal).toMatchObject({ clientId: 'test/caller', scopes: ['task.read'], roles: [], workload: true });
    // Its subject is the service-account user's id, not the client id: only the mapping tells it is no person.
    expect(principal.subject).not.toBe('test/caller');
    expect(notAPerson(principal)).toMatch(/is a workload: approvals come from people/);
  });
});

describe('RFC 9068 (preset rfc9068): URI audiences', () => {
  let idp: TestIdp;
  beforeAll(async () => {
    idp = await idpOf({ shape: 'rfc9068', people: { ada: { roles: ['approver'] } } });
  }, 60_000);
  afterAll(async () => idp?.close());

  test.each([
    ['spiffe', 'spiffe://agentmesh.local/ns/test/sa/agent'],
    ['https://{name}.{namespace}.agents.bank.example', 'https://agent.test.agents.bank.example'],
  ])('audience scheme %s: a token for %s is accepted', async (scheme, audience) => {
    const service = await startSecuredService(
      mesh,
      mesh.envOf('test/agent', {
        AGENTMESH_OAUTH_ISSUER: idp.issuer,
        AGENTMESH_OAUTH_PRESET: 'rfc9068',
        AGENTMESH_OAUTH_AUDIENCE: scheme,
      }),
    );
    try {
      const token = accessToken(
        await idp.token('test/caller', 'test/caller-secret-0123456789', {
          grant_type: 'client_credentials',
          resource: audience,
          scope: 'task.read',
        }),
      );
      const principal = await service.getTask(token);
      expect(principal).toMatchObject({ subject: 'test/caller', clientId: 'test/caller', scopes: ['task.read'] });
      expect(principal.claims.aud).toBe(audience);
    } finally {
      await service.close();
    }
  });
});
