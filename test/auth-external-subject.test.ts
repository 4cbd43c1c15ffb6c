// On-behalf-of with an enterprise identity provider: a person logs in at the IdP (a real OpenID
// provider shaped as Entra ID) and calls agent A with that token; A acts for the person at service B
// by exchanging the token at the mesh's own authorization server, which trusts the IdP for subject
// tokens (AGENTMESH_OAUTH_TRUST_FILE) and issues a mesh token: the person as subject, A as actor.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { AgentServiceService } from '../gen/agentmesh/v1/agent_service.js';
import { Task } from '../gen/agentmesh/v1/task.js';
import { createClient, createServer, type CallContext, type MeshServer } from '../mesh/index.js';
import { FileSecretsProvider } from '../mesh/security/secrets/index.js';
import { securityFromEnv, type SecuritySetup } from '../mesh/security/security-config.js';
import { securityInterceptor } from '../mesh/security/security-interceptor.js';
import { spiffeIdOfService } from '../mesh/security/spiffe-id.js';
import { Transport } from '../mesh/security/transport.js';
import { captureLogger } from './helpers/log-capture.js';
import { createLocalMeshFiles, type LocalMeshFiles } from './helpers/local-auth.js';
import { startIdp, type TestIdp } from './helpers/oidc-idp.js';
import { startProcess, waitForLog, type ServiceProcess } from './helpers/processes.js';

const AGENT = 'lending/agent';
const LEDGER = 'lending/ledger';
const PORTAL = 'bank/portal';
const CALLBACK = 'https://portal.bank.example/callback';
const BATCH = 'bank/batch';
/** The loan portal, registered at the IdP: people log in through it. */
const portal = {
  client_id: PORTAL,
  client_secret: 'portal-secret-0123456789',
  grant_types: ['authorization_code', 'refresh_token'],
  redirect_uris: [CALLBACK],
  response_types: ['code' as const],
};
const secretClient = (id: string, extra: object) => ({
  client_id: id,
  auth: { method: 'client_secret_basic', secret_path: `agentmesh/clients/${id}` },
  ...extra,
});

let files: LocalMeshFiles;
let idp: TestIdp;
let untrusted: TestIdp;
let auth: ServiceProcess;
let issuer: string;
const servers: MeshServer[] = [];
const setups: SecuritySetup[] = [];
const secrets: FileSecretsProvider[] = [];

/** What a test service answers GetTask with (as the task id), given the call and its own setup. */
type Handler = (ctx: CallContext, setup: SecuritySetup) => Promise<string>;

/** A secured service set up from the environment (securityFromEnv), answering GetTask with `getTask`. */
async function startService(service: string, callers: string, getTask: Handler) {
  const policy = join(files.dir, `${service.replace('/', '-')}-policy.json`);
  writeFileSync(
    policy,
    JSON.stringify({
      service,
      rules: [{ methods: ['agentmesh.v1.AgentService/GetTask'], callers: [callers], scopes: [] }],
    }),
  );
  const provider = new FileSecretsProvider(files.secretsFile);
  await provider.start();
  secrets.push(provider);
  const setup = await securityFromEnv(
    provider,
    captureLogger(service).log,
    files.serviceEnv(service, {
      AGENTMESH_OAUTH_ISSUER: issuer,
      AGENTMESH_OAUTH_TRUST_FILE: join(files.dir, 'trust.json'),
      AGENTMESH_POLICY_FILE: policy,
    }),
  );
  setups.push(setup);
  return serve(setup, getTask);
}

async function serve(setup: SecuritySetup, getTask: Handler) {
  const log = captureLogger(setup.config.AGENTMESH_SERVICE).log;
  const server = createServer({ logger: log })
    .use(securityInterceptor({ ...setup, log }))
    .add(AgentServiceService, {
      getTask: async (_r, ctx) => ({ task: Task.fromPartial({ id: await getTask(ctx, setup) }) }),
    });
  servers.push(server);
  return `127.0.0.1:${await server.listen('127.0.0.1:0', setup.transport.serverCredentials())}`;
}

let agentAddress: string;

beforeAll(async () => {
  files = await createLocalMeshFiles([
    secretClient(AGENT, { token_exchange: true, scopes: ['task.read'], audiences: [LEDGER] }),
    secretClient(LEDGER, { scopes: [], audiences: [] }),
  ]);
  for (const id of [AGENT, LEDGER])
    files.secrets[`agentmesh/clients/${id}`] = { client_secret: `${id}-secret-0123456789` };
  files.writeSecrets();
  const tls = { ...files.issue('agentmesh/idp'), ca: join(files.certs, 'ca.crt') };
  // eve holds an app role named like a scope: a role, never a delegated scope.
  const people = { ada: { roles: ['loan-approver'] }, eve: { roles: ['task.read'] } };
  // A confidential application of the tenant, with an application permission for the agent's API.
  const batch = {
    client_id: BATCH,
    client_secret: 'batch-secret-0123456789',
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
  };
  [idp, untrusted] = await Promise.all([
    startIdp({
      tls,
      shape: 'entra',
      oidcOnly: true,
      clients: [portal, batch],
      people,
      appRoles: { [BATCH]: ['task.read'] },
      // The person's token lives shorter than the mesh's (300 s): the delegation must follow it.
      ttlSec: 120,
    }),
    startIdp({ tls, shape: 'entra', oidcOnly: true, clients: [portal], people }),
  ]);
  // The enterprise IdP, trusted by the auth server (subject tokens) and by the services (people calling).
  writeFileSync(
    join(files.dir, 'trust.json'),
    JSON.stringify({
      issuers: [
        {
          issuer: idp.issuer,
          preset: 'entra',
          audience: 'api://agentmesh-{name}',
          // The application id every service also accepts (Entra v2): never enough to exchange.
          extraAudiences: ['api://portal-app-id'],
        },
      ],
    }),
  );
  auth = startProcess(
    'services/auth/main.ts',
    files.serviceEnv('agentmesh/auth', {
      AGENTMESH_AUTH_CLIENTS_FILE: files.clientsFile,
      AGENTMESH_OAUTH_TRUST_FILE: join(files.dir, 'trust.json'),
    }),
  );
  issuer = String((await waitForLog(auth, 'authorization server listening')).issuer);

  // B reports who it sees; A calls B acting for its caller (token exchange at the auth server).
  const ledgerAddress = await startService(LEDGER, `spiffe://{trust_domain}/ns/lending/sa/agent`, async (ctx) => {
    const p = ctx.principal!;
    return JSON.stringify({ subject: p.subject, roles: p.roles, actors: p.actors, scopes: p.scopes });
  });
  agentAddress = await startService(AGENT, `spiffe://{trust_domain}/ns/bank/sa/portal`, async (ctx, setup) => {
    const ledger = createClient(AgentServiceService, ledgerAddress, {
      credentials: setup.transport.channelCredentials(spiffeIdOfService('agentmesh.local', LEDGER)),
      metadataHooks: [setup.tokens.metadataHook(LEDGER, [], { actForCaller: true })],
    });
    try {
      const { task } = await ledger.getTask({ taskId: 'loan-7', historyLength: 0 }, { parent: ctx });
      return task!.id;
    } finally {
      ledger.close();
    }
  });
}, 60_000);

afterAll(async () => {
  for (const s of servers) await s.shutdown({ graceMs: 200 });
  for (const s of setups) s.close();
  for (const s of secrets) await s.close();
  auth?.child.kill('SIGTERM');
  if (auth) expect(await auth.exited).toBe(0);
  await idp?.close();
  await untrusted?.close();
  files?.cleanup();
});

/** Ada (or `person`) logs in at `at` through the portal, for `resource`; her access token. */
async function adaToken(at: TestIdp, resource: string, person = 'ada', scope = 'task.read'): Promise<string> {
  const answer = await at.login(person, {
    clientId: PORTAL,
    clientSecret: portal.client_secret,
    redirectUri: CALLBACK,
    resource,
    scope: `openid offline_access ${scope}`,
  });
  if (typeof answer.access_token !== 'string') throw new Error(`no token: ${JSON.stringify(answer)}`);
  return answer.access_token;
}

/** The exchanging agent's own token client, as A uses it. */
const agentTokens = () => setups.find((s) => s.config.AGENTMESH_SERVICE === AGENT)!.tokens;

test('a person logged in at the IdP calls agent A; A acts for her at B with a mesh token from the auth server', async () => {
  const token = await adaToken(idp, 'api://agentmesh-agent');
  expect(decodeJwt(token)).toMatchObject({ iss: idp.issuer, oid: 'ada', aud: 'api://agentmesh-agent' });
  const transport = new Transport({
    mode: 'mtls',
    trustDomain: 'agentmesh.local',
    tls: (({ AGENTMESH_TLS_CERT, AGENTMESH_TLS_KEY, AGENTMESH_TLS_CA }) => ({
      certFile: AGENTMESH_TLS_CERT!,
      keyFile: AGENTMESH_TLS_KEY!,
      caFile: AGENTMESH_TLS_CA!,
    }))(files.serviceEnv(PORTAL)),
  });
  const agent = createClient(AgentServiceService, agentAddress, {
    credentials: transport.channelCredentials(spiffeIdOfService('agentmesh.local', AGENT)),
    metadataHooks: [async (md) => void md.set('authorization', `Bearer ${token}`)],
  });
  try {
    const { task } = await agent.getTask({ taskId: 'loan-7', historyLength: 0 });
    expect(JSON.parse(task!.id)).toEqual({
      subject: 'ada',
      roles: ['loan-approver'],
      actors: [AGENT],
      scopes: ['task.read'],
    });
  } finally {
    agent.close();
    transport.close();
  }
});

test('the mesh token: issued by the auth server for B, never outliving the person’s token; the exchange is audited', async () => {
  const token = await adaToken(idp, 'api://agentmesh-agent');
  const mesh = decodeJwt(await agentTokens().exchange(token, LEDGER));
  expect(mesh).toMatchObject({
    iss: issuer,
    sub: 'ada',
    aud: LEDGER,
    roles: ['loan-approver'],
    act: { sub: AGENT },
    client_id: AGENT,
  });
  expect(mesh.exp).toBeLessThanOrEqual(decodeJwt(token).exp!);
  const audit = readFileSync(join(files.dir, 'data', 'agentmesh-auth', 'audit.jsonl'), 'utf8');
  const issued = audit
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((r) => r.kind === 'token_issued');
  expect(issued.at(-1)).toMatchObject({
    subject: 'ada',
    actors: [AGENT],
    peer: AGENT,
    resource: LEDGER,
    outcome: 'OK',
  });
  expect(audit).not.toContain(token);
});

test('refused: a person’s token addressed to another service', async () => {
  const forLedger = await adaToken(idp, 'api://agentmesh-ledger');
  await expect(agentTokens().exchange(forLedger, LEDGER)).rejects.toThrow(
    `token request refused: invalid_grant (subject_token from ${idp.issuer} is not addressed to the exchanging client (${AGENT} under that issuer's audience scheme))`,
  );
});

test('refused: a token of an issuer the auth server does not trust; no token reaches the logs', async () => {
  const foreign = await adaToken(untrusted, 'api://agentmesh-agent');
  await expect(agentTokens().exchange(foreign, LEDGER)).rejects.toThrow(
    `token request refused: invalid_grant (subject_token issuer ${untrusted.issuer} is not trusted (neither this server nor an issuer of AGENTMESH_OAUTH_TRUST_FILE))`,
  );
  expect(auth.stdout() + auth.stderr()).not.toContain(foreign);
  expect(auth.stdout()).toContain('token request refused');
});

test('refused: a token addressed to the application id every service accepts (extraAudiences) is no one agent’s', async () => {
  const forApp = await adaToken(idp, 'api://portal-app-id');
  await expect(agentTokens().exchange(forApp, LEDGER)).rejects.toThrow(
    `token request refused: invalid_grant (subject_token from ${idp.issuer} is not addressed to the exchanging client`,
  );
});

test('refused: an application’s own token at the IdP (client credentials) is not a person’s', async () => {
  const appOnly = await idp.token(BATCH, 'batch-secret-0123456789', {
    grant_type: 'client_credentials',
    scope: 'api://agentmesh-agent/.default',
  });
  await expect(agentTokens().exchange(String(appOnly.access_token), LEDGER)).rejects.toThrow(
    `token request refused: invalid_grant (subject_token from ${idp.issuer} is a workload's own token, not a person's)`,
  );
});

test('a person’s app role named like a scope stays a role: only delegated scopes (scp) become scopes', async () => {
  const eve = await adaToken(idp, 'api://agentmesh-agent', 'eve', 'task.write');
  expect(decodeJwt(eve)).toMatchObject({ scp: 'task.write', roles: ['task.read'] });
  const mesh = decodeJwt(await agentTokens().exchange(eve, LEDGER));
  expect(mesh).toMatchObject({ sub: 'eve', roles: ['task.read'], scope: '' });
});
