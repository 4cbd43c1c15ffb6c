import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { AgentServiceService } from '../gen/agentmesh/v1/agent_service.js';
import { Task } from '../gen/agentmesh/v1/task.js';
import { createClient } from '../mesh/index.js';
import { FileSecretsProvider } from '../mesh/security/secrets/index.js';
import { securityFromEnv } from '../mesh/security/security-config.js';
import { securityInterceptor } from '../mesh/security/security-interceptor.js';
import { spiffeIdOfService } from '../mesh/security/spiffe-id.js';
import { TokenClient } from '../mesh/security/token-client.js';
import { Transport } from '../mesh/security/transport.js';
import { readFileSync } from 'node:fs';
import { Code, createServer } from '../mesh/index.js';
import { verifyAuditFile } from '../mesh/telemetry/audit.js';
import { captureLogger } from './helpers/log-capture.js';
import { createLocalMeshFiles, type LocalMeshFiles } from './helpers/local-auth.js';
import { startProcess, waitForLog, type ServiceProcess } from './helpers/processes.js';
import { newSigningKeyPem } from './helpers/secure-mesh.js';

const CLIENTS = [
  {
    client_id: 'demo/agent',
    auth: { method: 'client_secret_basic', secret_path: 'agentmesh/clients/demo/agent' },
    scopes: ['task.read'],
    audiences: ['demo/agent'],
  },
  {
    client_id: 'demo/cli',
    auth: { method: 'client_secret_basic', secret_path: 'agentmesh/clients/demo/cli' },
    scopes: ['task.read'],
    audiences: ['demo/agent'],
  },
];

describe('services/auth as a process, and a service configured from the environment', () => {
  let files: LocalMeshFiles;
  let auth: ServiceProcess;
  let issuer: string;

  beforeAll(async () => {
    files = await createLocalMeshFiles(CLIENTS);
    files.secrets['agentmesh/clients/demo/agent'] = { client_secret: 'agent-secret-value-123' };
    files.secrets['agentmesh/clients/demo/cli'] = { client_secret: 'cli-secret-value-123' };
    files.writeSecrets();
    auth = startProcess(
      'services/auth/main.ts',
      files.serviceEnv('agentmesh/auth', { AGENTMESH_AUTH_CLIENTS_FILE: files.clientsFile }),
    );
    issuer = String((await waitForLog(auth, 'authorization server listening')).issuer);
  });

  afterAll(async () => {
    auth.child.kill('SIGTERM');
    expect(await auth.exited).toBe(0);
    files.cleanup();
  });

  test('a secured service built from the environment accepts a token from the auth service', async () => {
    const log = captureLogger('demo/agent').log;
    const env = files.serviceEnv('demo/agent', {
      AGENTMESH_OAUTH_ISSUER: issuer,
      AGENTMESH_POLICY_FILE: join(files.dir, 'policy.json'),
    });
    writeFileSync(
      env.AGENTMESH_POLICY_FILE!,
      JSON.stringify({
        service: 'demo/agent',
        rules: [
          {
            methods: ['agentmesh.v1.AgentService/GetTask'],
            callers: ['spiffe://{trust_domain}/ns/demo/sa/cli'],
            scopes: ['task.read'],
          },
        ],
      }),
    );
    const secrets = new FileSecretsProvider(files.secretsFile);
    await secrets.start();
    const setup = await securityFromEnv(secrets, log, env);
    const server = createServer({ logger: log })
      .use(securityInterceptor({ ...setup, log }))
      .add(AgentServiceService, {
        getTask: async (_r, ctx) => ({ task: Task.fromPartial({ id: ctx.principal!.subject }) }),
      });
    const port = await server.listen('127.0.0.1:0', setup.transport.serverCredentials());

    // The caller: the CLI's own certificate and its own client credentials.
    const cliEnv = files.serviceEnv('demo/cli');
    const cliTransport = new Transport({
      mode: 'mtls',
      trustDomain: 'agentmesh.local',
      tls: {
        certFile: cliEnv.AGENTMESH_TLS_CERT!,
        keyFile: cliEnv.AGENTMESH_TLS_KEY!,
        caFile: cliEnv.AGENTMESH_TLS_CA!,
      },
    });
    const cliTokens = new TokenClient({
      tokenUrl: `${issuer}/oauth2/token`,
      clientId: 'demo/cli',
      auth: { method: 'client_secret_basic', secret: 'cli-secret-value-123' },
      ca: readFileSync(cliEnv.AGENTMESH_TLS_CA!, 'utf8'),
    });
    const client = createClient(AgentServiceService, `127.0.0.1:${port}`, {
      credentials: cliTransport.channelCredentials(spiffeIdOfService('agentmesh.local', 'demo/agent')),
      metadataHooks: [cliTokens.metadataHook('demo/agent', ['task.read'])],
    });
    try {
      const { task } = await client.getTask({ taskId: 'x', historyLength: 0 });
      expect(task?.id).toBe('demo/cli');
      // The agent's own token client works against the same auth service.
      expect(decodeJwt(await setup.tokens.getToken('demo/agent', ['task.read'])).sub).toBe('demo/agent');
    } finally {
      client.close();
      cliTransport.close();
      await server.shutdown({ graceMs: 200 });
      setup.close();
      await secrets.close();
    }
  });

  test('a policy file for another service is refused, naming the variable', async () => {
    const secrets = new FileSecretsProvider(files.secretsFile);
    await secrets.start();
    const policy = join(files.dir, 'other-policy.json');
    writeFileSync(policy, JSON.stringify({ service: 'demo/other', rules: [] }));
    await expect(
      securityFromEnv(
        secrets,
        captureLogger().log,
        files.serviceEnv('demo/agent', { AGENTMESH_OAUTH_ISSUER: issuer, AGENTMESH_POLICY_FILE: policy }),
      ),
    ).rejects.toThrow('AGENTMESH_POLICY_FILE protects demo/other, not demo/agent');
    await secrets.close();
  });

  test('mtls mode without certificate settings stops with the variable named', async () => {
    const secrets = new FileSecretsProvider(files.secretsFile);
    await secrets.start();
    await expect(
      securityFromEnv(secrets, captureLogger().log, {
        AGENTMESH_SERVICE: 'demo/agent',
        AGENTMESH_OAUTH_ISSUER: issuer,
        AGENTMESH_POLICY_FILE: '/nonexistent',
      }),
    ).rejects.toThrow('AGENTMESH_TLS_CERT is required in mtls transport mode');
    await secrets.close();
  });

  test('a rotated signing key in the secrets file is picked up: new tokens carry the new kid', async () => {
    const secrets = new FileSecretsProvider(files.secretsFile);
    await secrets.start();
    const tokenClient = () =>
      new TokenClient({
        tokenUrl: `${issuer}/oauth2/token`,
        clientId: 'demo/cli',
        auth: { method: 'client_secret_basic', secret: 'cli-secret-value-123' },
        ca: readFileSync(join(files.certs, 'ca.crt'), 'utf8'),
      });
    const before = await tokenClient().getToken('demo/agent');
    expect(decodeProtectedHeader(before).kid).toBe('k1');
    expect(decodeJwt(before)).toMatchObject({ iss: issuer, sub: 'demo/cli', aud: 'demo/agent', scope: 'task.read' });
    files.secrets['agentmesh/auth/signing-keys'] = {
      ...files.secrets['agentmesh/auth/signing-keys'],
      k2: await newSigningKeyPem(),
      active: 'k2',
    };
    files.writeSecrets();
    await waitForLog(auth, 'signing key rotated');
    expect(decodeProtectedHeader(await tokenClient().getToken('demo/agent')).kid).toBe('k2');
    await secrets.close();
  });

  test('wrong client secret is refused with invalid_client', async () => {
    const client = new TokenClient({
      tokenUrl: `${issuer}/oauth2/token`,
      clientId: 'demo/cli',
      auth: { method: 'client_secret_basic', secret: 'guess' },
      ca: readFileSync(join(files.certs, 'ca.crt'), 'utf8'),
    });
    await expect(client.getToken('demo/agent')).rejects.toMatchObject({
      code: Code.UNAUTHENTICATED,
      message: expect.stringContaining('invalid_client'),
    });
    expect(auth.stdout()).not.toContain('guess');
    expect(auth.stdout()).not.toContain('cli-secret-value-123');
  });

  test('every token issued and every refusal is in the audit trail, which verifies; no secret or token in it', async () => {
    const file = join(files.dir, 'data', 'agentmesh-auth', 'audit.jsonl');
    const records = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          kind: 'token_issued',
          service: 'agentmesh/auth',
          subject: 'demo/cli',
          peer: 'demo/cli',
          resource: 'demo/agent',
          outcome: 'OK',
          reason: 'scopes task.read',
        }),
        expect.objectContaining({
          kind: 'token_refused',
          peer: 'demo/cli',
          resource: 'demo/agent',
          outcome: 'invalid_client',
        }),
      ]),
    );
    expect(verifyAuditFile(file)).toMatchObject({ ok: true, records: records.length });
    const text = readFileSync(file, 'utf8');
    for (const secret of ['guess', 'cli-secret-value-123', 'agent-secret-value-123', 'eyJ'])
      expect(text).not.toContain(secret);
  });
});

describe('services/auth startup failures', () => {
  test('a missing signing-key secret stops startup naming the path, exit 78', async () => {
    const files = await createLocalMeshFiles(CLIENTS);
    files.secrets = { other: { x: 'y' } };
    files.writeSecrets();
    const proc = startProcess(
      'services/auth/main.ts',
      files.serviceEnv('agentmesh/auth', { AGENTMESH_AUTH_CLIENTS_FILE: files.clientsFile }),
    );
    try {
      expect(await proc.exited).toBe(78);
      expect(proc.stderr().trim().split('\n')).toHaveLength(1);
      expect(proc.stderr()).toContain('agentmesh/auth/signing-keys');
    } finally {
      files.cleanup();
    }
  });
});
