import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentServiceService } from '../gen/agentmesh/v1/agent_service.js';
import { createClient } from '../mesh/index.js';
import { spiffeIdOfService } from '../mesh/security/spiffe-id.js';
import { TokenClient } from '../mesh/security/token-client.js';
import { Transport } from '../mesh/security/transport.js';
import { Code } from '../mesh/index.js';
import { verifyAuditFile } from '../mesh/index.js';
import { createLocalMeshFiles, localCaller, type LocalMeshFiles } from './helpers/local-auth.js';
import { startProcess, waitForLog, type ServiceProcess } from './helpers/processes.js';

const HOPS = ['demo/hop-a', 'demo/hop-b', 'demo/hop-c'];
const client = (id: string, audiences: string[]) => ({
  client_id: id,
  auth: { method: 'client_secret_basic', secret_path: `agentmesh/clients/${id}` },
  scopes: ['task.read'],
  audiences,
});

interface Span {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
}

async function httpGet(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

describe('observability across a chain of three agents', () => {
  let files: LocalMeshFiles;
  let auth: ServiceProcess;
  const hops: ServiceProcess[] = [];
  const started: Record<string, { address: string; admin: string }> = {};
  let cliTransport: Transport;
  let cliTokens: TokenClient;
  let token: string;

  beforeAll(async () => {
    files = await createLocalMeshFiles([
      client('demo/cli', ['demo/hop-a']),
      client('demo/hop-a', ['demo/hop-b']),
      client('demo/hop-b', ['demo/hop-c']),
      client('demo/hop-c', []),
    ]);
    for (const id of ['demo/cli', ...HOPS])
      files.secrets[`agentmesh/clients/${id}`] = { client_secret: `${id}-secret-0123456789` };
    files.writeSecrets();
    auth = startProcess(
      'services/auth/main.ts',
      files.serviceEnv('agentmesh/auth', { AGENTMESH_AUTH_CLIENTS_FILE: files.clientsFile }),
    );
    const issuer = String((await waitForLog(auth, 'authorization server listening')).issuer);
    // Start from the last hop so each knows the address of the next.
    const callers: Record<string, string> = {
      'demo/hop-a': 'demo/cli',
      'demo/hop-b': 'demo/hop-a',
      'demo/hop-c': 'demo/hop-b',
    };
    for (let i = HOPS.length - 1; i >= 0; i--) {
      const name = HOPS[i]!;
      const policy = join(files.dir, `${name.replace('/', '-')}.policy.json`);
      const [ns, sa] = callers[name]!.split('/');
      writeFileSync(
        policy,
        JSON.stringify({
          service: name,
          rules: [
            {
              methods: ['agentmesh.v1.AgentService/GetTask'],
              callers: [`spiffe://{trust_domain}/ns/${ns}/sa/${sa}`],
              scopes: ['task.read'],
            },
          ],
        }),
      );
      const next = HOPS[i + 1];
      const env = files.serviceEnv(name, {
        AGENTMESH_OAUTH_ISSUER: issuer,
        AGENTMESH_POLICY_FILE: policy,
        AGENTMESH_DATA_DIR: join(files.dir, 'data', name.replace('/', '-')),
        AGENTMESH_TRACE_FILE: join(files.dir, `${name.replace('/', '-')}.traces.jsonl`),
        // The window in which a draining hop still answers /readyz (503): wide enough for a loaded machine.
        AGENTMESH_SHUTDOWN_DELAY_MS: '3000',
        ...(name === 'demo/hop-a' ? { HOP_READY_FILE: join(files.dir, 'hop-a.ready') } : {}),
        ...(next ? { HOP_NEXT_SERVICE: next, HOP_NEXT_ADDRESS: started[next]!.address } : {}),
      });
      const proc = startProcess('test/fixtures/hop-agent.ts', env, { tracing: true });
      hops.unshift(proc);
      const line = await waitForLog(proc, 'service started');
      started[name] = { address: String(line.address), admin: String(line.admin) };
    }
    ({ transport: cliTransport, tokens: cliTokens } = localCaller(files, 'demo/cli', issuer));
    token = await cliTokens.getToken('demo/hop-a', ['task.read']);
  }, 180_000);

  afterAll(async () => {
    cliTransport?.close();
    for (const p of [...hops, auth]) p?.child.kill('SIGKILL');
    files?.cleanup();
  });

  const callHopA = async (withToken: boolean, taskId: string) => {
    const c = createClient(AgentServiceService, started['demo/hop-a']!.address, {
      credentials: cliTransport.channelCredentials(spiffeIdOfService('agentmesh.local', 'demo/hop-a')),
      metadataHooks: withToken ? [async (md) => md.set('authorization', `Bearer ${token}`)] : [],
    });
    try {
      return await c.getTask({ taskId, historyLength: 0 }, { deadlineMs: 60_000 });
    } finally {
      c.close();
    }
  };

  test('/readyz is not ready before startup work completes, then ready', async () => {
    // hop-a's startup work is done only when the test says so (its ready file).
    const first = await httpGet(`http://${started['demo/hop-a']!.admin}/readyz`);
    expect(first.status).toBe(503);
    writeFileSync(join(files.dir, 'hop-a.ready'), '');
    // Polled until it turns ready, however long the machine takes (the test's timeout is the bound).
    let status = first.status;
    while (status !== 200) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await httpGet(`http://${started['demo/hop-a']!.admin}/readyz`)).status;
    }
    expect((await httpGet(`http://${started['demo/hop-a']!.admin}/livez`)).status).toBe(200);
  });

  test('a request through three hops; metrics move for ok and failed calls; logs carry no PII or token', async () => {
    const pii = 'jane.doe@example.com 4111 1111 1111 1111';
    const answer = await callHopA(true, pii);
    expect(answer.task?.agent).toBe('demo/hop-c');
    await expect(callHopA(false, 'no-token')).rejects.toMatchObject({ code: Code.UNAUTHENTICATED });

    const metrics = (await httpGet(`http://${started['demo/hop-a']!.admin}/metrics`)).body;
    for (const line of metrics.split('\n').filter(Boolean)) {
      expect(line).toMatch(
        /^(# (HELP|TYPE) \w+ .*|[a-zA-Z_:][\w:]*(\{[^}]*\})? -?[\d.e+-]+|[a-zA-Z_:][\w:]*(\{[^}]*\})? (NaN|\+Inf|-Inf))$/,
      );
    }
    expect(metrics).toMatch(/grpc_server_handled_total\{[^}]*grpc_method="GetTask"[^}]*grpc_code="OK"[^}]*\} 1/);
    expect(metrics).toMatch(
      /grpc_server_handled_total\{[^}]*grpc_method="GetTask"[^}]*grpc_code="UNAUTHENTICATED"[^}]*\} 1/,
    );
    expect(metrics).toMatch(/agentmesh_token_verification_failures_total\{[^}]*reason="missing"[^}]*\} 1/);
    expect(metrics).toMatch(/grpc_server_handling_seconds_bucket\{/);
    expect(metrics).toMatch(/nodejs_eventloop_lag_seconds/);
    expect(metrics).toMatch(/process_resident_memory_bytes/);

    const logs = hops.map((h) => h.stdout()).join('');
    expect(logs).toContain('[EMAIL] [CARD]');
    expect(logs).not.toContain('jane.doe@example.com');
    expect(logs).not.toContain('4111 1111 1111 1111');
    // The handler logged its metadata and the Authorization header in its message: the token is in neither.
    expect(logs).not.toContain(token);
    expect(logs).not.toContain(token.split('.')[1]!);
    const hopLine = hops[0]!
      .stdout()
      .split('\n')
      .find((l) => l.includes('hop demo/hop-a got'));
    expect(JSON.parse(hopLine!)).toMatchObject({
      service: 'demo/hop-a',
      trace_id: expect.stringMatching(/^[0-9a-f]{32}$/),
      metadata: { authorization: '[REDACTED]' },
      msg: expect.stringContaining('with Bearer [REDACTED]'),
    });
  }, 90_000);

  test('audit trails verify and record who called what', () => {
    const file = join(files.dir, 'data', 'demo-hop-a', 'audit.jsonl');
    expect(verifyAuditFile(file)).toEqual({ ok: true, records: 2 });
    const records = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(records[0]).toMatchObject({
      kind: 'call',
      subject: 'demo/cli',
      peer: spiffeIdOfService('agentmesh.local', 'demo/cli'),
      outcome: 'OK',
      method: 'agentmesh.v1.AgentService/GetTask',
    });
    expect(records[1]).toMatchObject({
      kind: 'auth_failure',
      outcome: 'UNAUTHENTICATED',
      peer: spiffeIdOfService('agentmesh.local', 'demo/cli'),
    });
    expect(JSON.stringify(records)).not.toContain('jane.doe');
    expect(verifyAuditFile(join(files.dir, 'data', 'demo-hop-c', 'audit.jsonl')).ok).toBe(true);
  });

  test('after SIGTERM /readyz turns not ready while draining; every hop exits 0; one trace spans all hops', async () => {
    hops[0]!.child.kill('SIGTERM');
    await waitForLog(hops[0]!, 'shutting down');
    expect((await httpGet(`http://${started['demo/hop-a']!.admin}/readyz`)).status).toBe(503);
    for (const h of hops.slice(1)) h.child.kill('SIGTERM');
    for (const h of hops) expect(await h.exited).toBe(0);

    const spans: Span[] = HOPS.flatMap((name) => {
      const file = join(files.dir, `${name.replace('/', '-')}.traces.jsonl`);
      return existsSync(file)
        ? readFileSync(file, 'utf8')
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as Span)
        : [];
    });
    const serverA = spans.find((s) => s.service === 'demo/hop-a' && s.kind === 1 && s.name.endsWith('GetTask'));
    expect(serverA).toBeDefined();
    const trace = spans.filter((s) => s.traceId === serverA!.traceId);
    const server = (svc: string) => trace.find((s) => s.service === svc && s.kind === 1)!;
    const client = (svc: string) => trace.find((s) => s.service === svc && s.kind === 2)!;
    // Parent links: client span inside each hop's server span; the next hop's server span under that client span.
    expect(client('demo/hop-a').parentSpanId).toBe(server('demo/hop-a').spanId);
    expect(server('demo/hop-b').parentSpanId).toBe(client('demo/hop-a').spanId);
    expect(client('demo/hop-b').parentSpanId).toBe(server('demo/hop-b').spanId);
    expect(server('demo/hop-c').parentSpanId).toBe(client('demo/hop-b').spanId);
    expect(new Set(trace.map((s) => s.service))).toEqual(new Set(HOPS));
  }, 90_000);
});
