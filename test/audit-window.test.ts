import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentServiceService, SendTaskRequest } from '../gen/agentmesh/v1/agent_service.js';
import { Task } from '../gen/agentmesh/v1/task.js';
import { Code, createClient, createServer, loadConfig, type MeshServer } from '../mesh/index.js';
import { serviceConfigSchema } from '../mesh/service/index.js';
import { parsePolicy } from '../mesh/security/policy.js';
import { securityInterceptor } from '../mesh/security/security-interceptor.js';
import { spiffeIdOfService } from '../mesh/security/spiffe-id.js';
import { TokenVerifier } from '../mesh/security/token-verifier.js';
import type { Transport } from '../mesh/security/transport.js';
import {
  AuditLog,
  MeshMetrics,
  observabilityInterceptor,
  readOnlyMethods,
  verifyAuditFile,
  type AuditRecord,
} from '../mesh/telemetry/index.js';
import { createLocalMeshFiles, localCaller, type LocalMeshFiles } from './helpers/local-auth.js';
import { captureLogger } from './helpers/log-capture.js';
import { startProcess, waitForLog, type ServiceProcess } from './helpers/processes.js';
import { AGENT_POLICY, createSecureFixture, idOf, secureClient, type SecureFixture } from './helpers/secure-mesh.js';
import { TRUST_DOMAIN } from './helpers/pki.js';

const records = (file: string): AuditRecord[] =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as AuditRecord)
    : [];
const summary = (file: string) => records(file).map((r) => `${r.kind} ${r.method?.split('/')[1]} ${r.outcome}`);

describe('the audit window (AGENTMESH_AUDIT_READ_WINDOW_MS): read-only calls answered before their record is durable', () => {
  let fixture: SecureFixture;
  let dir: string;
  let file: string;
  let audit: AuditLog;
  let server: MeshServer;
  let address: string;
  let callerTransport: Transport;

  beforeAll(async () => {
    fixture = await createSecureFixture();
    dir = mkdtempSync(join(tmpdir(), 'audit-window-'));
    file = join(dir, 'audit.jsonl');
    // A window far longer than the test: a record not yet in the file is one nobody flushed.
    audit = new AuditLog(file, { windowMs: 3_600_000 });
    const transport = await fixture.transportFor('test', 'agent');
    const log = captureLogger('test/agent').log;
    const verifier = new TokenVerifier({
      issuer: fixture.auth.issuer,
      audience: 'test/agent',
      jwksUrl: fixture.auth.jwksUrl,
      ca: fixture.pki.ca.certPem,
    });
    server = createServer({ logger: log })
      .use(
        observabilityInterceptor({
          service: 'test/agent',
          metrics: new MeshMetrics('test/agent'),
          audit,
          readOnly: readOnlyMethods(),
        }),
      )
      .use(securityInterceptor({ transport, verifier, policy: parsePolicy(AGENT_POLICY, TRUST_DOMAIN), log }))
      .add(AgentServiceService, {
        getTask: async (req, ctx) => {
          // A read that changed state after all (a GetTask that resumed a task waiting for authority).
          if (req.taskId.startsWith('resumed')) ctx.changedState = true;
          return { task: Task.fromPartial({ id: req.taskId }) };
        },
        sendTask: async () => ({ task: Task.fromPartial({ id: 'created' }) }),
      });
    address = `127.0.0.1:${await server.listen('127.0.0.1:0', transport.serverCredentials())}`;
    callerTransport = await fixture.transportFor('test', 'caller');
  }, 60_000);

  afterAll(async () => {
    await fixture?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a read is answered first; a write, a refused read and a shutdown flush everything before them, in call order', async () => {
    const tokens = fixture.tokenClient('test/caller');
    const client = secureClient(callerTransport, address, idOf('test', 'agent'), () =>
      tokens.getToken('test/agent', ['task.read', 'task.write']),
    );
    const anonymous = secureClient(callerTransport, address, idOf('test', 'agent'), undefined);
    try {
      await client.getTask({ taskId: 't1', historyLength: 0 });
      expect(summary(file)).toEqual([]);
      await client.sendTask(SendTaskRequest.fromPartial({ requestId: 'r1' }));
      expect(summary(file)).toEqual(['call GetTask OK', 'call SendTask OK']);
      await client.getTask({ taskId: 't2', historyLength: 0 });
      // A refusal is durable before its answer, whatever the method.
      await expect(anonymous.getTask({ taskId: 't3', historyLength: 0 })).rejects.toMatchObject({
        code: Code.UNAUTHENTICATED,
      });
      expect(summary(file)).toEqual([
        'call GetTask OK',
        'call SendTask OK',
        'call GetTask OK',
        'auth_failure GetTask UNAUTHENTICATED',
      ]);
      await client.getTask({ taskId: 't4', historyLength: 0 });
      expect(records(file)).toHaveLength(4);
      // A read whose handler changed state is durable before its answer, with what came before it.
      await client.getTask({ taskId: 'resumed-1', historyLength: 0 });
      expect(records(file).map((r) => r.task_id)).toEqual(['t1', undefined, 't2', 't3', 't4', 'resumed-1']);
    } finally {
      client.close();
      anonymous.close();
    }
    // Graceful shutdown: drain, then close the trail, which flushes what waits for its window.
    await server.shutdown();
    await audit.close();
    expect(records(file).map((r) => r.task_id)).toEqual(['t1', undefined, 't2', 't3', 't4', 'resumed-1']);
    expect(verifyAuditFile(file)).toEqual({ ok: true, records: 6 });
  });
});

describe('the audit window settings', () => {
  const load = (env: Record<string, string>) => loadConfig(serviceConfigSchema, env);

  test('default: no window, no extra methods', () => {
    expect(load({})).toMatchObject({ AGENTMESH_AUDIT_READ_WINDOW_MS: 0, AGENTMESH_AUDIT_READ_METHODS: [] });
  });

  test('a bounded window and a service’s own read-only methods', () => {
    const config = load({
      AGENTMESH_AUDIT_READ_WINDOW_MS: '5',
      AGENTMESH_AUDIT_READ_METHODS: 'acme.Reports/GetReport, acme.Catalog/*',
    });
    expect(config.AGENTMESH_AUDIT_READ_METHODS).toEqual(['acme.Reports/GetReport', 'acme.Catalog/*']);
    const readOnly = readOnlyMethods(config.AGENTMESH_AUDIT_READ_METHODS);
    expect(['acme.Reports/GetReport', 'acme.Catalog/List', 'agentmesh.v1.AgentService/GetTask'].map(readOnly)).toEqual([
      true,
      true,
      true,
    ]);
    expect(['acme.Reports/Delete', 'agentmesh.v1.AgentService/SendTask'].map(readOnly)).toEqual([false, false]);
  });

  test.each([
    [{ AGENTMESH_AUDIT_READ_WINDOW_MS: '60000' }, 'AGENTMESH_AUDIT_READ_WINDOW_MS must be at most 10000'],
    [{ AGENTMESH_AUDIT_READ_WINDOW_MS: '-1' }, 'AGENTMESH_AUDIT_READ_WINDOW_MS must not be negative'],
    [{ AGENTMESH_AUDIT_READ_METHODS: 'GetReport' }, 'AGENTMESH_AUDIT_READ_METHODS must list pkg.Service/Method'],
  ])('%o is refused at startup', (env, message) => {
    expect(() => load(env)).toThrow(message);
  });
});

describe('a service with the audit window stopped gracefully', () => {
  let files: LocalMeshFiles;
  let auth: ServiceProcess | undefined;
  let agent: ServiceProcess | undefined;

  afterAll(() => {
    for (const p of [agent, auth]) p?.child.kill('SIGKILL');
    files?.cleanup();
  });

  test('loses no record of the calls it answered', async () => {
    const client = (id: string, audiences: string[]) => ({
      client_id: id,
      auth: { method: 'client_secret_basic', secret_path: `agentmesh/clients/${id}` },
      scopes: ['task.read'],
      audiences,
    });
    files = await createLocalMeshFiles([client('demo/cli', ['demo/hop']), client('demo/hop', [])]);
    for (const id of ['demo/cli', 'demo/hop'])
      files.secrets[`agentmesh/clients/${id}`] = { client_secret: `${id}-secret-0123456789` };
    files.writeSecrets();
    auth = startProcess(
      'services/auth/main.ts',
      files.serviceEnv('agentmesh/auth', { AGENTMESH_AUTH_CLIENTS_FILE: files.clientsFile }),
    );
    const issuer = String((await waitForLog(auth, 'authorization server listening')).issuer);
    const policy = join(files.dir, 'hop.policy.json');
    writeFileSync(
      policy,
      JSON.stringify({
        service: 'demo/hop',
        rules: [
          {
            methods: ['agentmesh.v1.AgentService/GetTask'],
            callers: ['spiffe://{trust_domain}/ns/demo/sa/cli'],
            scopes: ['task.read'],
          },
        ],
      }),
    );
    const dataDir = join(files.dir, 'data', 'demo-hop');
    agent = startProcess(
      'test/fixtures/hop-agent.ts',
      files.serviceEnv('demo/hop', {
        AGENTMESH_OAUTH_ISSUER: issuer,
        AGENTMESH_POLICY_FILE: policy,
        AGENTMESH_DATA_DIR: dataDir,
        AGENTMESH_AUDIT_READ_WINDOW_MS: '10000',
      }),
    );
    const address = String((await waitForLog(agent, 'service started')).address);
    const caller = localCaller(files, 'demo/cli', issuer);
    const hop = createClient(AgentServiceService, address, {
      credentials: caller.transport.channelCredentials(spiffeIdOfService('agentmesh.local', 'demo/hop')),
      metadataHooks: [
        async (md) => md.set('authorization', `Bearer ${await caller.tokens.getToken('demo/hop', ['task.read'])}`),
      ],
      defaultDeadlineMs: 60_000,
    });
    const ids = Array.from({ length: 20 }, (_, i) => `task-${i}`);
    try {
      await Promise.all(ids.map((taskId) => hop.getTask({ taskId, historyLength: 0 })));
    } finally {
      hop.close();
      caller.close();
    }
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    const file = join(dataDir, 'audit.jsonl');
    expect(verifyAuditFile(file)).toEqual({ ok: true, records: 20 });
    expect(
      records(file)
        .map((r) => r.task_id)
        .sort(),
    ).toEqual([...ids].sort());
  }, 180_000);
});
