// The McpStepRunner against an MCP server built with the official SDK (test/helpers/mcp-partner.ts)
// over HTTPS with a CA of its own: results, refusals, how failures are classified for the
// executor's retries, TLS trust (exactly the entry's CA; no mesh workload certificate) and the
// credential sent. The agent-level path (registry, executor, explanation) is in
// test/mcp-external-tool.test.ts.
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ExternalMcpServer, McpAuthMode, ToolCard } from '../gen/agentmesh/v1/card.js';
import { PlanStep } from '../gen/agentmesh/v1/plan.js';
import { Code, MeshError } from '../mesh/core/index.js';
import { createCa, issueWorkloadCert } from '../mesh/security/dev-ca.js';
import type { StepCall } from '../mesh/runtime/executor.js';
import { BREAKER_FAILURES, RETRYABLE } from '../mesh/runtime/retry.js';
import { McpCredentials } from '../mesh/runtime/mcp/mcp-credentials.js';
import { externalIdempotencyKey, McpStepRunner, type ExternalToolServer } from '../mesh/runtime/mcp/mcp-step-runner.js';
import { McpPartner } from './helpers/mcp-partner.js';

const NAME = 'partners/ledger';
const SECRET = 'partner-api-key-1';
const TRUST_DOMAIN = 'agentmesh.test';

describe('McpStepRunner against an SDK MCP server over HTTPS', () => {
  let partner: McpPartner;
  let partnerCaPem: string;
  /** A server with a certificate of the mesh's trust domain (a mesh workload posing as the partner). */
  let impostor: McpPartner;
  const secretReads: string[] = [];
  /** Tokens the partner's authorization server issued, in order; /fresh/mcp accepts those from acceptFrom on. */
  const issued: string[] = [];
  let acceptFrom = 0;
  const hanging: string[] = [];
  // Resolved when the hanging token endpoint holds a request: tests wait for this event, not for time.
  let hangReached: () => void = () => undefined;
  let idp: Server;
  let tokenUrl: string;
  const runner = new McpStepRunner({
    credentials: new McpCredentials({
      meshToken: () => Promise.reject(new Error('not used')),
      exchange: () => Promise.reject(new Error('not used')),
      readSecret: (path) => {
        secretReads.push(path);
        return Promise.resolve({ token: SECRET, client_secret: 'client-secret-1' });
      },
    }),
    trustDomain: TRUST_DOMAIN,
    clientInfo: { name: 'demo/caller', version: '1.0.0' },
  });

  const server = (url: string, caPem: string, idempotent: string[] = ['lookup-rate', 'greet']): ExternalToolServer => ({
    name: NAME,
    card: ToolCard.fromPartial({
      name: NAME,
      tools: ['lookup-rate', 'refuse-quote', 'book-payment', 'greet'].map((name) => ({
        name,
        idempotent: idempotent.includes(name),
      })),
      mcp: ExternalMcpServer.fromPartial({
        url,
        external: true,
        caPem,
        auth: { mode: McpAuthMode.MCP_AUTH_MODE_STATIC_SECRET, secret: 'mcp/partners/ledger#token' },
      }),
    }),
    choice: { name: NAME, version: '3.0.0', address: url, reasons: [], score: 0, alternatives: [] },
  });
  const call = (tool: string, args: Record<string, unknown>, budgetMs = 30_000): StepCall => ({
    taskId: 't',
    step: PlanStep.fromPartial({ id: 's', target: { $case: 'tool', tool: { service: NAME, tool } } }),
    args,
    attempt: 1,
    idempotencyKey: `t:${tool}:1`,
    signal: AbortSignal.timeout(60_000),
    deadline: Date.now() + budgetMs,
    childTaskCreated: () => undefined,
  });
  const failure = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (err) {
      return err as MeshError;
    }
    throw new Error('expected a failure');
  };

  beforeAll(async () => {
    const ca = await createCa('partner.example', 1);
    partnerCaPem = ca.certPem;
    partner = new McpPartner(
      await issueWorkloadCert(ca, { spiffeId: 'spiffe://partner.example/ledger', commonName: 'ledger' }),
      async (path, authorization) =>
        path === '/fresh/mcp'
          ? issued.slice(acceptFrom).some((t) => authorization === `Bearer ${t}`)
          : authorization === `Bearer ${SECRET}`,
    );
    await partner.start();
    // The partner's authorization server: client credentials, a new token each time.
    const idpPair = await issueWorkloadCert(ca, { spiffeId: 'spiffe://partner.example/idp', commonName: 'idp' });
    idp = createHttpsServer(idpPair, (req, res) => {
      // A token endpoint that takes the request and never answers.
      if (req.url === '/hang') {
        hanging.push(req.url);
        return void hangReached();
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const form = new URLSearchParams(Buffer.concat(chunks).toString());
        const ok = form.get('client_id') === 'bank' && form.get('client_secret') === 'client-secret-1';
        if (!ok) return void res.writeHead(401).end('{"error":"invalid_client"}');
        issued.push(`partner-token-${issued.length + 1}`);
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ access_token: issued.at(-1), token_type: 'Bearer', expires_in: 3600 }));
      });
    });
    await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
    tokenUrl = `https://127.0.0.1:${(idp.address() as AddressInfo).port}/token`;
    const meshCa = await createCa(TRUST_DOMAIN, 1);
    impostor = new McpPartner(
      await issueWorkloadCert(meshCa, { spiffeId: `spiffe://${TRUST_DOMAIN}/ns/demo/sa/tools`, commonName: 'tools' }),
      async () => true,
    );
    await impostor.start();
    (impostor as unknown as { caPem: string }).caPem = meshCa.certPem;
  });

  afterAll(async () => {
    await partner?.stop();
    await impostor?.stop();
    idp?.closeAllConnections();
    await new Promise<void>((resolve) => (idp ? idp.close(() => resolve()) : resolve()));
  });

  test('a structured result is the output; the static secret is the bearer; _meta carries the idempotency key', async () => {
    const result = await runner.run(
      call('lookup-rate', { currency: 'XTS' }),
      server(partner.url('/mcp'), partnerCaPem),
      () => 'caller-token',
    );
    expect(result.output).toEqual({ currency: 'XTS', rate: 1.25 });
    const sent = partner.calls('lookup-rate').at(-1)!;
    expect(sent.authorization).toBe(`Bearer ${SECRET}`);
    // A hash of the attempt's key: the partner learns no task or step ids.
    expect(sent.meta?.['io.agentmesh/idempotency-key']).toBe(externalIdempotencyKey('t:lookup-rate:1'));
    expect(sent.meta?.['io.agentmesh/idempotency-key']).toMatch(/^sha256:[A-Za-z0-9_-]{43}$/);
    expect(partner.requests.some((r) => r.authorization.includes('caller-token'))).toBe(false);
    expect(secretReads).toContain('mcp/partners/ledger');
  });

  test('a JSON text result is parsed; a plain text result is the text', async () => {
    const target = server(partner.url('/mcp'), partnerCaPem);
    expect((await runner.run(call('book-payment', { amount: 5 }), target, () => undefined)).output).toEqual({
      booked: true,
      amount: 5,
    });
    expect((await runner.run(call('greet', {}), target, () => undefined)).output).toBe('hello from the partner');
  });

  test("isError fails the step FAILED_PRECONDITION with the tool's text", async () => {
    const err = await failure(
      runner.run(call('refuse-quote', { currency: 'XTS' }), server(partner.url('/mcp'), partnerCaPem), () => undefined),
    );
    expect(err.code).toBe(Code.FAILED_PRECONDITION);
    expect(err.message).toContain('no quote for XTS today');
  });

  test('HTTP 503 on an idempotent tool is UNAVAILABLE (retried by the executor); the handler did not run', async () => {
    partner.unavailableOnce.add('lookup-rate');
    const before = partner.executed.length;
    const err = await failure(
      runner.run(call('lookup-rate', { currency: 'XTS' }), server(partner.url('/mcp'), partnerCaPem), () => undefined),
    );
    expect(err.code).toBe(Code.UNAVAILABLE);
    expect(partner.executed.length).toBe(before);
  });

  test('an answer lost after a non-idempotent tool acted is UNKNOWN, saying the outcome is unknown', async () => {
    partner.loseAnswerOnce.add('book-payment');
    const err = await failure(
      runner.run(call('book-payment', { amount: 9 }), server(partner.url('/mcp'), partnerCaPem), () => undefined),
    );
    expect(err.code).toBe(Code.UNKNOWN);
    expect(err.message).toContain('outcome unknown');
    expect(partner.executed.filter((t) => t === 'book-payment').length).toBeGreaterThan(0);
  });

  test('a non-idempotent tool: sending() is persisted before tools/call; resumed after a sent request, it is not called again', async () => {
    const target = server(partner.url('/mcp'), partnerCaPem);
    const order: string[] = [];
    const first = {
      ...call('book-payment', { amount: 3 }),
      sending: async () => void order.push(`sending ${partner.calls('book-payment').length}`),
    };
    const before = partner.calls('book-payment').length;
    await runner.run(first, target, () => undefined);
    expect(order).toEqual([`sending ${before}`]);
    // The agent restarted after that request went out: the resumed attempt fails, nothing is sent.
    const requests = partner.requests.length;
    const err = await failure(
      runner.run({ ...call('book-payment', { amount: 3 }), resumes: { requestSent: true } }, target, () => undefined),
    );
    expect(err.code).toBe(Code.UNKNOWN);
    expect(err.message).toContain('outcome unknown');
    expect(partner.requests.length).toBe(requests);
    // Resumed without a sent request (e.g. paused for the caller's token before sending): called.
    const resumed = await runner.run(
      { ...call('book-payment', { amount: 4 }), resumes: { requestSent: false } },
      target,
      () => undefined,
    );
    expect(resumed.output).toEqual({ booked: true, amount: 4 });
    // An idempotent tool is called again whatever the earlier attempt sent.
    const again = await runner.run({ ...call('greet', {}), resumes: { requestSent: true } }, target, () => undefined);
    expect(again.output).toBe('hello from the partner');
  });

  test('the same lost answer on an idempotent tool is UNAVAILABLE (safe to retry)', async () => {
    partner.loseAnswerOnce.add('greet');
    const err = await failure(
      runner.run(call('greet', {}), server(partner.url('/mcp'), partnerCaPem), () => undefined),
    );
    expect(err.code).toBe(Code.UNAVAILABLE);
  });

  test('403 insufficient_scope on tools/call is PERMISSION_DENIED, one request, not an unknown outcome', async () => {
    partner.forbidden.add('book-payment');
    const before = partner.calls('book-payment').length;
    const err = await failure(
      runner.run(call('book-payment', { amount: 2 }), server(partner.url('/mcp'), partnerCaPem), () => undefined),
    );
    partner.forbidden.delete('book-payment');
    expect(err.code).toBe(Code.PERMISSION_DENIED);
    expect(err.message).toContain('Insufficient scope');
    expect(partner.calls('book-payment').length - before).toBe(1);
    expect(BREAKER_FAILURES.has(err.code) || RETRYABLE.has(err.code)).toBe(false);
  });

  test('an HTTP failure is reported by status only: a body echoing the bearer never reaches the message', async () => {
    partner.echoAuthorization.add('greet');
    const err = await failure(
      runner.run(call('greet', {}), server(partner.url('/mcp'), partnerCaPem), () => undefined),
    );
    partner.echoAuthorization.delete('greet');
    expect(err.code).toBe(Code.FAILED_PRECONDITION);
    expect(err.message).toContain('HTTP 400');
    expect(err.message).not.toContain(SECRET);
    expect(err.message).not.toContain('you sent');
    // eslint-disable-next-line no-control-regex
    expect(err.message).not.toMatch(/[\u0000-\u001f]/);
  });

  test('a stateful server: the session is ended (DELETE) after the call, also after a failed one', async () => {
    const target = server(partner.url('/stateful/mcp'), partnerCaPem);
    expect((await runner.run(call('greet', {}), target, () => undefined)).output).toBe('hello from the partner');
    expect(partner.sessionsEnded).toHaveLength(1);
    const err = await failure(runner.run(call('refuse-quote', { currency: 'XTS' }), target, () => undefined));
    expect(err.code).toBe(Code.FAILED_PRECONDITION);
    expect(partner.sessionsEnded).toHaveLength(2);
  });

  test('a refused bearer is UNAUTHENTICATED', async () => {
    const target = server(partner.url('/mcp'), partnerCaPem);
    const wrong = new McpStepRunner({
      credentials: new McpCredentials({
        meshToken: () => Promise.reject(new Error('not used')),
        exchange: () => Promise.reject(new Error('not used')),
        readSecret: () => Promise.resolve({ token: 'wrong' }),
      }),
      trustDomain: TRUST_DOMAIN,
      clientInfo: { name: 'demo/caller', version: '1.0.0' },
    });
    const err = await failure(wrong.run(call('greet', {}), target, () => undefined));
    expect(err.code).toBe(Code.UNAUTHENTICATED);
    expect(err.message).not.toContain('wrong');
  });

  test('TLS: another CA than the entry names is refused before anything is sent', async () => {
    const other = await createCa('other.example', 1);
    const before = partner.requests.length;
    const err = await failure(
      runner.run(call('greet', {}), server(partner.url('/mcp'), other.certPem), () => undefined),
    );
    expect(err.code).toBe(Code.FAILED_PRECONDITION);
    expect(err.message).toContain('certificate');
    expect(partner.requests.length).toBe(before);
  });

  test('TLS: a server certificate with a SPIFFE ID of our trust domain is refused, even under its own CA', async () => {
    const caPem = (impostor as unknown as { caPem: string }).caPem;
    const err = await failure(runner.run(call('greet', {}), server(impostor.url('/mcp'), caPem), () => undefined));
    expect(err.code).toBe(Code.FAILED_PRECONDITION);
    expect(err.message).toContain('mesh workload');
    expect(impostor.requests).toHaveLength(0);
  });

  test('a tool the entry does not list is NOT_FOUND, and the server is not called', async () => {
    const before = partner.requests.length;
    const err = await failure(
      runner.run(call('drop-tables', {}), server(partner.url('/mcp'), partnerCaPem), () => undefined),
    );
    expect(err.code).toBe(Code.NOT_FOUND);
    expect(partner.requests.length).toBe(before);
  });

  // The signal allows a minute: what ends these calls is the step's deadline, given as the request timeout.
  test("the step's deadline is the request timeout: DEADLINE_EXCEEDED for an idempotent tool", async () => {
    partner.hold.add('greet');
    const err = await failure(
      runner.run(call('greet', {}, 300), server(partner.url('/mcp'), partnerCaPem), () => undefined),
    );
    partner.release();
    expect(err.code).toBe(Code.DEADLINE_EXCEEDED);
  });

  test('the same for a tool not marked idempotent is UNKNOWN: it may have acted', async () => {
    partner.hold.add('book-payment');
    const err = await failure(
      runner.run(call('book-payment', { amount: 1 }, 300), server(partner.url('/mcp'), partnerCaPem), () => undefined),
    );
    partner.release();
    expect(err.code).toBe(Code.UNKNOWN);
    expect(err.message).toContain('outcome unknown');
  });

  test("a token endpoint that never answers: the step fails DEADLINE_EXCEEDED at its deadline, also while another step's wait for the same token goes on", async () => {
    const target = server(partner.url('/fresh/mcp'), partnerCaPem);
    target.card.mcp!.auth = {
      mode: McpAuthMode.MCP_AUTH_MODE_CLIENT_CREDENTIALS,
      tokenUrl: tokenUrl.replace('/token', '/hang'),
      clientId: 'bank',
      secret: 'mcp/partners/ledger-client',
      resource: '',
      scopes: ['ledger'],
    };
    const before = partner.requests.length;
    // A step with a minute to go asks first; its request is the one the endpoint holds.
    const patient = new AbortController();
    const reached = new Promise<void>((resolve) => (hangReached = resolve));
    const waiting = runner.run({ ...call('greet', {}), signal: patient.signal }, target, () => undefined);
    // Caught now so that a failed expectation below leaves no unhandled rejection behind.
    const waited = failure(waiting);
    // The short step starts only once the endpoint holds the first request (a loaded machine may
    // take longer than its 300 ms to get there): it then waits on that same token request.
    await reached;
    const err = await failure(runner.run(call('greet', {}, 300), target, () => undefined));
    expect(err.code).toBe(Code.DEADLINE_EXCEEDED);
    expect(hanging).toHaveLength(1);
    patient.abort(new MeshError(Code.CANCELLED, 'task canceled'));
    expect((await waited).code).toBe(Code.CANCELLED);
    expect(partner.requests.length).toBe(before);
  });

  test("client credentials at the partner's authorization server; a token it stops accepting (401) is replaced once", async () => {
    const target = server(partner.url('/fresh/mcp'), partnerCaPem);
    target.card.mcp!.auth = {
      mode: McpAuthMode.MCP_AUTH_MODE_CLIENT_CREDENTIALS,
      tokenUrl,
      clientId: 'bank',
      secret: 'mcp/partners/ledger-client',
      resource: '',
      scopes: ['ledger'],
    };
    expect((await runner.run(call('greet', {}), target, () => 'caller-token')).output).toBe('hello from the partner');
    expect(issued).toEqual(['partner-token-1']);
    // Cached: no second token request.
    await runner.run(call('greet', {}), target, () => 'caller-token');
    expect(issued).toHaveLength(1);
    // The partner revokes it: the next call is refused once, then sent with a new token.
    acceptFrom = issued.length;
    const before = partner.requests.length;
    expect((await runner.run(call('greet', {}), target, () => 'caller-token')).output).toBe('hello from the partner');
    expect(issued).toEqual(['partner-token-1', 'partner-token-2']);
    const sent = partner.requests.slice(before).map((r) => r.authorization);
    expect(sent[0]).toBe('Bearer partner-token-1');
    expect(sent.at(-1)).toBe('Bearer partner-token-2');
    expect(partner.requests.some((r) => r.authorization.includes('caller-token'))).toBe(false);
  });
});
