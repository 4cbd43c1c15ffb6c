// The whole local mesh as a new user meets it: the launcher `npm start` runs, the CLI, the
// demo domain. Slow by nature (seven processes); one mesh serves every step of the story.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Explanation } from '../gen/agentmesh/v1/explain.js';
import { TaskState } from '../gen/agentmesh/v1/task.js';
import { httpRequest } from '../mesh/security/https-client.js';
import { verifyAuditFile } from '../mesh/telemetry/audit.js';
import { decodeJwt } from 'jose';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { TokenClient } from '../mesh/index.js';
import { alive, pidsOf, startLocalMesh, type LocalMesh } from './helpers/local-mesh.js';
import { mtlsFetch } from './helpers/mtls-fetch.js';
import { ROOT, runCommand } from './helpers/processes.js';

interface Span {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: Record<string, unknown>;
}

const ORCHESTRATOR = 'lending/loan-orchestrator';

describe('the local mesh: npm start, the demo domain and the agentmesh CLI', () => {
  let home: string;
  let mesh: LocalMesh;
  const everyPid = new Set<number>();

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'agentmesh-e2e-'));
    mesh = await startLocalMesh(home);
  }, 120_000);

  afterAll(async () => {
    await mesh?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  const service = (name: string) => mesh.file.services.find((s) => s.name === name)!;
  const spansOf = (name: string): Span[] => {
    const file = service(name).trace!;
    return existsSync(file)
      ? readFileSync(file, 'utf8')
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Span)
      : [];
  };
  const explain = async (taskId: string) => {
    const r = await mesh.cli(['explain', taskId, '--json']);
    expect(r).toMatchObject({ code: 0 });
    return Explanation.fromJSON(JSON.parse(r.stdout));
  };

  test('mesh.json names every service with its kind, addresses and SPIFFE ID, the CA and the CLI credentials', () => {
    expect(mesh.file.services.map((s) => [s.name, s.kind])).toEqual([
      ['agentmesh/auth', 'auth'],
      ['agentmesh/registry', 'registry'],
      ['banking/customer-records', 'tool'],
      ['banking/loan-math', 'tool'],
      ['lending/credit-risk', 'agent'],
      ['lending/compliance', 'agent'],
      [ORCHESTRATOR, 'agent'],
      ['agentmesh/console', 'console'],
    ]);
    for (const s of mesh.file.services)
      expect(s.spiffeId).toBe(`spiffe://agentmesh.local/ns/${s.name.replace('/', '/sa/')}`);
    expect(readFileSync(mesh.file.ca, 'utf8')).toContain('BEGIN CERTIFICATE');
    expect(mesh.file.client).toMatchObject({ clientId: 'agentmesh/cli', clientSecret: expect.any(String) });
    expect(mesh.launcher.stdout()).toContain('npx agentmesh task lending/loan-orchestrator --example 1');
  });

  test("the demo's tool services serve MCP: mesh.json names each endpoint, which challenges a caller without a token to its metadata", async () => {
    const tls = {
      ca: readFileSync(mesh.file.ca),
      cert: readFileSync(mesh.file.client.cert),
      key: readFileSync(mesh.file.client.key),
    };
    for (const name of ['banking/customer-records', 'banking/loan-math']) {
      const url = service(name).mcp!;
      expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/mcp$/);
      const res = await mtlsFetch(tls)(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
      });
      expect(res.status).toBe(401);
      const metadataUrl = /resource_metadata="([^"]+)"/.exec(res.headers.get('www-authenticate')!)![1]!;
      const doc = (await (await mtlsFetch(tls)(metadataUrl)).json()) as Record<string, unknown>;
      expect(doc).toMatchObject({ resource: url, authorization_servers: [mesh.file.issuer] });
    }
  });

  test("an MCP client of the official SDK lists and calls the demo's loan calculators with a person's token; the tools' own rules still apply", async () => {
    const f = mesh.file;
    const tls = { ca: readFileSync(f.ca), cert: readFileSync(f.client.cert), key: readFileSync(f.client.key) };
    const tokens = new TokenClient({
      tokenUrl: f.tokenUrl,
      clientId: f.client.clientId,
      auth: { method: 'client_secret_basic', secret: f.client.clientSecret },
      ca: tls.ca.toString(),
    });
    const connect = async (token?: string) => {
      const client = new Client({ name: 'desktop-assistant', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(service('banking/loan-math').mcp!), {
          fetch: mtlsFetch(tls),
          requestInit: token ? { headers: { authorization: `Bearer ${token}` } } : undefined,
        }),
      );
      return client;
    };
    // ada's role grants tools.invoke (services/auth/users.json); the loan-math policy admits people's clients.
    const ada = await connect(await tokens.tokenForUser('ada', 'banking/loan-math', ['tools.invoke']));
    try {
      const { tools } = await ada.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(['affordability', 'convert', 'decide', 'risk-score']);
      const convert = tools.find((t) => t.name === 'convert')!;
      expect(convert.inputSchema).toMatchObject({ type: 'object', required: ['amount', 'from', 'to'] });
      expect(convert.outputSchema).toMatchObject({ type: 'object', required: ['amount', 'currency', 'rate'] });
      const converted = await ada.callTool({ name: 'convert', arguments: { amount: 40000, from: 'GBP', to: 'EUR' } });
      expect(converted.isError).toBeFalsy();
      expect(converted.structuredContent).toMatchObject({ amount: 47058.82, currency: 'EUR' });
      // The tool's schema is checked as on gRPC: the model hears what was wrong.
      const bad = await ada.callTool({ name: 'convert', arguments: { amount: -1, from: 'GBP', to: 'EUR' } });
      expect(bad.isError).toBe(true);
      expect(JSON.stringify(bad.content)).toMatch(/INVALID_ARGUMENT: arguments\/amount: must be >= 0/);
    } finally {
      await ada.close();
    }
    // carol's roles do not grant tools.invoke: no such token for her, and one without it is refused (403).
    await expect(tokens.tokenForUser('carol', 'banking/loan-math', ['tools.invoke'])).rejects.toThrow(/scope/);
    await expect(connect(await tokens.tokenForUser('carol', 'banking/loan-math'))).rejects.toThrow(
      /Insufficient scope: required "tools.invoke"/,
    );
    // Without a token: the SDK client is refused with the RFC 9728 challenge (the raw 401 is checked above).
    await expect(connect()).rejects.toThrow(/missing bearer access token/);
  });

  test('agents discovers with the scoping rules', async () => {
    const all = await mesh.cli(['agents', '--namespace', 'lending', '--json']);
    expect(all.code).toBe(0);
    const names = (JSON.parse(all.stdout) as { entry: { agent?: { name: string } } }[]).map((m) => m.entry.agent?.name);
    expect(names.sort()).toEqual(['lending/compliance', 'lending/credit-risk', ORCHESTRATOR]);
    const kyc = await mesh.cli(['agents', '--policy', 'bank/kyc-2024', '--kind', 'agent']);
    expect(kyc.stdout).toContain('lending/compliance@1.0.0');
    expect(kyc.stdout).not.toContain('lending/credit-risk');
  });

  test('the demo task completes without a person; its explanation spans the orchestrator, both specialists and both tools under one trace', async () => {
    const r = await mesh.cli(['task', ORCHESTRATOR, '--example', '1', '--json']);
    expect(r.code).toBe(0);
    const task = JSON.parse(r.stdout) as {
      id: string;
      status: { state: string };
      artifacts: { parts: { data: { decision: string } }[] }[];
    };
    expect(task.status.state).toBe('TASK_STATE_COMPLETED');
    expect(task.artifacts[0]!.parts[0]!.data.decision).toBe('pre-qualified');

    const e = await explain(task.id);
    expect(e.plan?.steps.map((s) => s.id)).toEqual(['customer', 'fx', 'risk', 'compliance', 'approval', 'decision']);
    // The orchestrator's own plan uses both tools and both specialist agents.
    expect(new Set(e.collaborators.map((c) => c.name.split('#')[0]!.split(' ')[0]))).toEqual(
      new Set(['banking/customer-records', 'banking/loan-math', 'lending/credit-risk', 'lending/compliance']),
    );
    const children = Object.fromEntries(
      e.children.map((c) => [c.stepId, c.result?.$case === 'explanation' ? c.result.explanation : undefined]),
    );
    expect(children.risk?.task?.agent).toBe('lending/credit-risk');
    expect(children.compliance?.task?.agent).toBe('lending/compliance');
    // Token exchange: the specialists' tasks run for the person, not for the orchestrator.
    expect(children.risk?.task?.subject).toBe('alice');
    const tools = new Set(
      [...e.collaborators, ...children.risk!.collaborators, ...children.compliance!.collaborators].map((c) => c.name),
    );
    expect([...tools].sort()).toEqual([
      'banking/customer-records',
      'banking/loan-math',
      'lending/compliance',
      'lending/credit-risk',
    ]);
    expect(e.collaborators.find((c) => c.stepId === 'risk')).toMatchObject({
      address: service('lending/credit-risk').address,
      reasons: expect.arrayContaining(['named by the playbook prequalify-loan']),
    });
    // The specialists ran in parallel: each started before the other finished.
    const attemptOf = (id: string) => e.execution.find((x) => x.stepId === id)!.attempts[0]!;
    const risk = attemptOf('risk');
    const compliance = attemptOf('compliance');
    expect(risk.startedAt!.getTime()).toBeLessThan(compliance.finishedAt!.getTime());
    expect(compliance.startedAt!.getTime()).toBeLessThan(risk.finishedAt!.getTime());
    // What the substitution log says was sent is what the specialist received.
    const sent = Object.fromEntries(
      e.substitutions.filter((x) => x.stepId === 'risk').map((x) => [x.path.slice(1), x.value]),
    );
    const received = children.risk!.task!.history[0]!.parts.find((p) => p.content?.$case === 'data')?.content;
    expect(received?.$case === 'data' && received.data).toEqual(sent);
    // Personal data never leaves in an explanation, though the tool returned it.
    const published = JSON.stringify(Explanation.toJSON(e));
    for (const personal of [
      'maria.keller@example.com',
      'Maria Keller',
      'DE-84 221 907',
      '+49 30 1234 5678',
      'DE89370400440532013000',
    ])
      expect(published).not.toContain(personal);

    const traceId = e.task!.traceId;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(children.risk?.task?.traceId).toBe(traceId);
    // Spans are exported in batches, a span in the batch after its end: wait until every hop has
    // written its part of the trace, and the orchestrator the spans looked at below (jest's timeout
    // is the bound: other processes write them, as fast as the machine lets them).
    const hops = [
      ORCHESTRATOR,
      'lending/credit-risk',
      'lending/compliance',
      'banking/customer-records',
      'banking/loan-math',
    ];
    const traceSpans = () => hops.flatMap((h) => spansOf(h).filter((s) => s.traceId === traceId));
    const taskSpanIn = (all: Span[]) => all.find((s) => s.service === ORCHESTRATOR && s.name.startsWith('task '));
    const riskStepIn = (all: Span[]) => all.find((s) => s.service === ORCHESTRATOR && s.name === 'step risk');
    const childServerIn = (all: Span[]) =>
      all.find((s) => s.service === 'lending/credit-risk' && s.name.endsWith('AgentService/SendTask'));
    const toolServerIn = (all: Span[]) =>
      all.find((s) => s.service === 'banking/customer-records' && s.name.endsWith('ToolService/InvokeTool'));
    const written = (all: Span[]) =>
      hops.every((h) => all.some((s) => s.service === h)) &&
      toolServerIn(all) !== undefined &&
      taskSpanIn(all) !== undefined &&
      riskStepIn(all) !== undefined &&
      all.some((s) => s.spanId === childServerIn(all)?.parentSpanId);
    let spans = traceSpans();
    while (!written(spans)) {
      await new Promise((r) => setTimeout(r, 200));
      spans = traceSpans();
    }
    for (const h of hops) expect(spans.filter((s) => s.service === h).length).toBeGreaterThan(0);
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const taskSpan = taskSpanIn(spans)!;
    expect(taskSpan.attributes['agentmesh.task.id']).toBe(task.id);
    const riskStep = riskStepIn(spans)!;
    expect(riskStep.parentSpanId).toBe(taskSpan.spanId);
    // The specialist's SendTask server span hangs under the orchestrator's step (through its client span).
    const childServer = childServerIn(spans)!;
    expect(byId.get(byId.get(childServer.parentSpanId!)!.parentSpanId!)?.spanId).toBe(riskStep.spanId);
    expect(toolServerIn(spans)).toBeDefined();
  }, 90_000);

  test('four eyes: ada sends example 2, ada is refused, carol approves from her inbox, ben the auditor explains it; the metrics show the tasks', async () => {
    const r = await mesh.cli(['task', ORCHESTRATOR, '--example', '2', '--no-input'], { user: 'ada' });
    // 3: waits for a person, which a script must tell from success.
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(
      /waits for a person: Approve a loan of 47058.82 EUR for customer C-1002 \(GB, 4 years of credit history\)\?/,
    );
    expect(r.stdout).toContain(
      'who may answer: role loan-approver; never ada or the agents acting for them (four eyes)',
    );
    expect(r.stdout).toMatch(/approvals so far: 0 of 1 approval; deadline: \S+Z \(in 2[34] h \d+ min\)/);
    const taskId = new RegExp(`npx agentmesh inbox answer ${ORCHESTRATOR} (\\S+) <answer>`).exec(r.stdout)![1]!;

    // ada may not approve her own loan: one line naming the reason.
    const own = await mesh.cli(['inbox', 'answer', ORCHESTRATOR, taskId, 'approve'], { user: 'ada' });
    expect(own).toMatchObject({ code: 1, stdout: '' });
    expect(own.stderr).toMatch(
      /^agentmesh: lending\/loan-orchestrator refused the answer .*four eyes.*\(PERMISSION_DENIED\)\n$/,
    );
    expect(await mesh.cli(['inbox'], { user: 'ada' })).toMatchObject({ code: 0, stdout: 'nothing waits for ada\n' });

    // carol, a loan approver, finds it in her inbox, reads it and approves.
    const inbox = await mesh.cli(['inbox'], { user: 'carol' });
    expect(inbox).toMatchObject({ code: 0, stderr: '' });
    expect(inbox.stdout).toContain(`${ORCHESTRATOR}  ${taskId}  step approval (approval, 0 of 1 approval)  for ada`);
    const shown = await mesh.cli(['inbox', 'show', ORCHESTRATOR, taskId], { user: 'carol' });
    expect(shown).toMatchObject({ code: 0, stderr: '' });
    expect(shown.stdout).toContain('choices: approve / decline\n');
    expect(shown.stdout).toContain('evidence (the explanation so far):\n');
    expect(shown.stdout).toMatch(/ {2}- risk: agent lending\/credit-risk \(assess-credit-risk\) {2}SUCCEEDED/);
    expect(await mesh.cli(['inbox', 'answer', ORCHESTRATOR, taskId, 'perhaps'], { user: 'carol' })).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('must be one of approve, decline'),
    });
    // The answer is followed to the task's end: the steps after it, then the result, as `task` prints them.
    const answered = await mesh.cli(['inbox', 'answer', ORCHESTRATOR, taskId, 'approve'], { user: 'carol' });
    expect(answered).toMatchObject({ code: 0, stderr: '' });
    expect(answered.stdout).toMatch(
      new RegExp(`^answered approval of task ${taskId}: carol answered approve as loan-approver at \\S+Z`),
    );
    expect(answered.stdout).toMatch(
      /> decision started\n {2}= decision succeeded\nresult: \{\n {2}"decision": "pre-qualified"/,
    );
    expect(answered.stdout).toContain(`explain it: npx agentmesh explain ${taskId}`);

    // ben, the auditor, explains it: who approved, with which role, when.
    const told = await mesh.cli(['explain', taskId], { user: 'ben' });
    expect(told).toMatchObject({ code: 0, stderr: '' });
    expect(told.stdout).toContain('- approval: human approval (role loan-approver)  SUCCEEDED');
    expect(told.stdout).toMatch(/ {6}carol answered approve as loan-approver at \S+Z/);
    const json = await mesh.cli(['explain', taskId, '--json'], { user: 'ben' });
    const e = Explanation.fromJSON(JSON.parse(json.stdout));
    expect(e.task?.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(e.task?.subject).toBe('ada');
    expect(e.task?.approvals).toEqual([
      expect.objectContaining({ stepId: 'approval', subject: 'carol', role: 'loan-approver', answer: 'approve' }),
    ]);
    expect(e.execution.find((x) => x.stepId === 'decision')?.output).toMatchObject({
      decision: 'pre-qualified',
      reasons: expect.arrayContaining(['approved by the reviewer']),
    });
    // The auditor changes nothing: he cannot send.
    const send = await mesh.cli(['task', ORCHESTRATOR, '--example', '1'], { user: 'ben' });
    expect(send).toMatchObject({ code: 1, stderr: expect.stringMatching(/^agentmesh: [^\n]+\n$/) });
    expect(send.stdout).not.toContain('result:');
    // Another person cannot see it.
    expect(await mesh.cli(['explain', taskId], { user: 'mallory' })).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('not found'),
    });

    const metrics = (await httpRequest(`http://${service(ORCHESTRATOR).admin}/metrics`)).body.toString();
    const value = (name: string) =>
      Number(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(metrics)?.[1]);
    const svc = `service="${ORCHESTRATOR}"`;
    expect(value(`agentmesh_tasks{state="TASK_STATE_COMPLETED",${svc}}`)).toBeGreaterThanOrEqual(2);
    expect(value(`agentmesh_plan_steps_total{kind="agent",outcome="succeeded",${svc}}`)).toBeGreaterThanOrEqual(4);
    expect(value(`agentmesh_plan_steps_total{kind="human",outcome="succeeded",${svc}}`)).toBe(1);
    expect(value(`agentmesh_pending_tasks{${svc}}`)).toBe(0);
    // Conversation depth: messages in a task when it ended (the request, plus the approver's answer here).
    expect(value(`agentmesh_conversation_depth_count{${svc}}`)).toBeGreaterThanOrEqual(2);
    expect(value(`agentmesh_conversation_depth_bucket{le="2",${svc}}`)).toBeGreaterThanOrEqual(2);
  }, 90_000);

  test('a specialist killed with SIGKILL is restarted by the launcher and the mesh recovers', async () => {
    const log = service('lending/credit-risk').log;
    const [pid] = pidsOf(log);
    process.kill(pid!, 'SIGKILL');
    // The launcher and the new process take what the machine gives them: polled (jest's timeout bounds it).
    while (!mesh.launcher.stdout().includes('restarting lending/credit-risk'))
      await new Promise((r) => setTimeout(r, 100));
    expect(mesh.launcher.stdout()).toContain('lending/credit-risk exited (SIGKILL); restarting in');
    let ready = false;
    while (!ready) {
      await new Promise((r) => setTimeout(r, 200));
      ready = await httpRequest(`http://${service('lending/credit-risk').admin}/readyz`, { timeoutMs: 500 }).then(
        (a) => a.status === 200,
        () => false,
      );
    }
    expect(ready).toBe(true);
    expect(pidsOf(log)[0]).not.toBe(pid);
    const again = await mesh.cli(['task', ORCHESTRATOR, '--example', '1', '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ status: { state: 'TASK_STATE_COMPLETED' } });
  }, 90_000);

  test('every audit chain verifies, and records who acted for whom', async () => {
    const r = await mesh.cli(['audit', 'verify']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ok\s+lending\/credit-risk: \d+ records/);
    const records = readFileSync(join(home, 'data', 'lending-credit-risk', 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { method?: string; subject?: string; actors?: string[] });
    expect(records.find((x) => x.method?.endsWith('AgentService/SendTask'))).toMatchObject({
      subject: 'alice',
      actors: [ORCHESTRATOR, 'agentmesh/cli'],
    });
    expect(verifyAuditFile(join(home, 'data', 'lending-loan-orchestrator', 'audit.jsonl')).ok).toBe(true);
    // The authorization server's trail: the tokens it issued, exchanges with their actor chain.
    expect(r.stdout).toMatch(/ok\s+agentmesh\/auth: \d+ records/);
    type Record = {
      kind: string;
      method?: string;
      subject?: string;
      actors?: string[];
      resource?: string;
      outcome: string;
      task_id?: string;
      peer?: string;
    };
    const trail = (service: string) =>
      readFileSync(join(home, 'data', service.replace('/', '-'), 'audit.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record);
    expect(trail('agentmesh/auth')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          kind: 'token_issued',
          subject: 'alice',
          actors: ['agentmesh/cli'],
          resource: ORCHESTRATOR,
        }),
        expect.objectContaining({
          kind: 'token_issued',
          subject: 'alice',
          actors: [ORCHESTRATOR, 'agentmesh/cli'],
          resource: 'lending/credit-risk',
        }),
      ]),
    );
    // One task followed through the trails: the call that created it, its plan, its states, the tool calls of its steps.
    const orchestrator = trail(ORCHESTRATOR);
    const sent = orchestrator.find(
      (x) => /AgentService\/(Send|Stream)Task$/.test(x.method ?? '') && x.outcome === 'OK' && x.task_id,
    )!;
    const ofTask = orchestrator.filter((x) => x.task_id === sent.task_id).map((x) => `${x.kind} ${x.outcome}`);
    expect(ofTask).toEqual(
      expect.arrayContaining(['task_state SUBMITTED', 'call OK', 'task_state WORKING', 'plan_created WORKING']),
    );
    expect(ofTask.some((k) => /^task_state (COMPLETED|INPUT_REQUIRED)$/.test(k))).toBe(true);
    expect(trail('banking/customer-records')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          kind: 'tool_invocation',
          resource: 'get-customer',
          task_id: sent.task_id,
          subject: ORCHESTRATOR,
          outcome: 'OK',
        }),
      ]),
    );
  });

  test('the CLI fails in one line with a non-zero code', async () => {
    const unknown = await mesh.cli(['task', 'lending/nobody', '{}']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
    expect(unknown.stderr).toContain('lending/nobody is not an agent of this mesh');
    const bad = await mesh.cli(['task', ORCHESTRATOR, '{not json']);
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining('the input is not JSON') });
    const invalid = await mesh.cli(['task', ORCHESTRATOR, '{"customerId":"C-1001"}', '--json']);
    expect(invalid.code).toBe(1);
    // Every problem of the input at once, not one per try.
    expect(invalid.stderr).toBe(
      'agentmesh: lending/loan-orchestrator: input/amount: required; input/currency: required; input/termMonths: required\n',
    );
    expect(invalid.stdout).toBe('');
    // A task that fails says why: the customer step stops an unknown customer.
    const unknownCustomer = await mesh.cli([
      'task',
      ORCHESTRATOR,
      '{"customerId":"C-9999","amount":100,"currency":"EUR","termMonths":12}',
    ]);
    expect(unknownCustomer.code).toBe(1);
    // The failure is said once, and a failure that is not retried speaks of no attempts.
    const failure = 'step customer failed: customer C-9999 not found';
    expect(unknownCustomer.stdout).toMatch(new RegExp(`ended FAILED: ${failure}\n$`));
    expect(unknownCustomer.stdout.split(failure)).toHaveLength(2);
    expect(unknownCustomer.stdout).toContain('  x customer failed: customer C-9999 not found\n');
    expect(unknownCustomer.stdout).not.toMatch(/attempt/);
  });

  test('token prints an access token for the person, bound to the service named; the examples are listed when the input is missing', async () => {
    const r = await mesh.cli(['--user', 'ada', 'token', '--audience', ORCHESTRATOR]);
    expect(r.code).toBe(0);
    const claims = decodeJwt(r.stdout.trim());
    expect(claims).toMatchObject({ sub: 'ada', aud: ORCHESTRATOR, iss: mesh.file.issuer });
    expect(String(claims.scope).split(' ')).toEqual(expect.arrayContaining(['task.read', 'task.write']));
    const noAudience = await mesh.cli(['token']);
    expect(noAudience).toMatchObject({ code: 2, stdout: '' });
    expect(noAudience.stderr).toMatch(/^agentmesh: token needs --audience <service>.*lending\/loan-orchestrator/);
    const examples = await mesh.cli(['task', ORCHESTRATOR]);
    expect(examples.code).toBe(2);
    expect(examples.stdout).toContain('1. Completes on its own: low risk, small amount (skill prequalify-loan)');
    expect(examples.stdout).toContain(`'{"customerId":"C-1002","amount":40000,"currency":"GBP","termMonths":60}'`);
  });

  test("tools shows a tool service's tools with their argument and result fields; a tool service is not taken for an agent", async () => {
    const tools = await mesh.cli(['tools', 'banking/loan-math']);
    expect(tools.code).toBe(0);
    expect(tools.stdout).toContain('banking/loan-math@1.0.0  tool service  ACTIVE');
    expect(tools.stdout).toMatch(/\nconvert {2}\(idempotent\)[^]*arguments:\n {6}amount: number, minimum 0\n/);
    expect(tools.stdout).toMatch(/ {4}result:\n {6}amount: any\n {6}currency: any\n {6}rate: any\n/);
    const json = await mesh.cli(['tools', 'banking/loan-math', '--tool', 'risk-score', '--json']);
    const card = JSON.parse(json.stdout) as { tools: { name: string; resultSchema: { required: string[] } }[] };
    expect(card.tools.map((t) => t.name)).toEqual(['risk-score']);
    expect(card.tools[0]!.resultSchema.required).toEqual(['score', 'band', 'reasons']);
    expect(await mesh.cli(['task', 'banking/loan-math', '{}'])).toMatchObject({
      code: 1,
      stderr:
        'agentmesh: banking/loan-math is a tool service, not an agent: agents call its tools from their plans; ' +
        'its tools and their arguments: agentmesh tools banking/loan-math\n',
    });
  });

  test('a token for a service whose policy does not admit the caller is refused, naming that policy', async () => {
    // customer-records holds personal data: people's clients are not among its callers (loan-math's are).
    const r = await mesh.cli(['token', '--audience', 'banking/customer-records']);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toContain(
      'client agentmesh/cli may not obtain tokens for banking/customer-records: services/tools/customer-records/policy.json ' +
        'does not list it among the callers of banking/customer-records; add "spiffe://{trust_domain}/ns/agentmesh/sa/cli"',
    );
  });

  test('output piped into a program that stops reading ends the command quietly', async () => {
    const sent = await mesh.cli(['task', ORCHESTRATOR, '--example', '1', '--json']);
    const taskId = (JSON.parse(sent.stdout) as { id: string }).id;
    for (const args of [['explain', taskId, '--depth', '4'], ['tools', 'banking/loan-math'], ['agents']]) {
      // The reader is gone before the first line is written, as with `| head -0`.
      const child = spawn(process.execPath, [join(ROOT, 'devtools/cli/bin.mjs'), ...args], {
        cwd: ROOT,
        env: { ...process.env, NODE_OPTIONS: '', AGENTMESH_HOME: home, AGENTMESH_USER: 'alice' },
      });
      child.stdout.destroy();
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise((resolve) => child.on('exit', (c) => resolve(c)));
      expect({ args, code, stderr }).toEqual({ args, code: 0, stderr: '' });
    }
  });

  test('SIGTERM stops every process and exits 0', async () => {
    for (const s of mesh.file.services) for (const pid of pidsOf(s.log)) everyPid.add(pid);
    expect(everyPid.size).toBeGreaterThanOrEqual(6);
    mesh.launcher.child.kill('SIGTERM');
    expect(await mesh.launcher.exited).toBe(0);
    expect([...everyPid].filter(alive)).toEqual([]);
    expect(existsSync(join(home, 'mesh.json'))).toBe(false);
    // A mesh.json left by a launcher killed outright: the CLI says the mesh is not running.
    const stale = mkdtempSync(join(tmpdir(), 'agentmesh-stale-'));
    try {
      writeFileSync(join(stale, 'mesh.json'), JSON.stringify({ ...mesh.file, launcherPid: [...everyPid][0] }));
      const r = await runCommand(process.execPath, [join(ROOT, 'devtools/cli/bin.mjs'), 'agents'], {
        env: { ...process.env, NODE_OPTIONS: '', AGENTMESH_HOME: stale },
      });
      expect(r).toMatchObject({
        code: 1,
        stderr: expect.stringMatching(
          /^agentmesh: the mesh of .* is not running \(its launcher, pid \d+, is gone\); start it with `npm start`\n$/,
        ),
      });
    } finally {
      rmSync(stale, { recursive: true, force: true });
    }
  }, 60_000);
});
