// A tool service's MCP front door (docs/mcp.md) seen from the official MCP SDK client: the
// same tokens, policy, schemas, idempotency store and audit trail as its gRPC port, over
// Streamable HTTP with mutual TLS; RFC 9728 challenges for callers without a usable token.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Code, createCa, issueWorkloadCert, MeshError, type ToolSpec } from '../mesh/index.js';
import { initTracing, shutdownTracing } from '../mesh/telemetry/index.js';
import { startTestMesh, type StubToolService, type TestMesh } from '../mesh/testing/index.js';
import { mtlsFetch, type TlsSettings } from './helpers/mtls-fetch.js';

const TOOLS = 'test/mcp-math';
const OPEN = 'test/mcp-open';
const CLOSED = 'test/mcp-closed';
const NAMED = 'test/mcp-named';
const SLOW = 'test/mcp-slow';
const KEY_META = 'io.agentmesh/idempotency-key';

let opened = 0;
const tools: ToolSpec[] = [
  {
    name: 'convert',
    description: 'Converts EUR to USD.',
    argumentsSchema: {
      type: 'object',
      required: ['amount'],
      additionalProperties: false,
      properties: { amount: { type: 'number', minimum: 0 } },
    },
    resultSchema: { type: 'object', required: ['amount', 'currency'] },
    idempotent: true,
    handler: async (args) => ({ amount: Math.round(Number(args.amount) * 108) / 100, currency: 'USD' }),
  },
  {
    name: 'open-account',
    description: 'Opens an account (not idempotent).',
    argumentsSchema: { type: 'object', required: ['owner'], properties: { owner: { type: 'string' } } },
    handler: async (args) => ({ account: `ACC-${++opened}`, owner: args.owner }),
  },
];

// A tool whose dependency is down: a transient failure, which a caller may retry.
const quote: ToolSpec = {
  name: 'quote',
  description: 'Quotes a rate (its feed is down).',
  argumentsSchema: { type: 'object' },
  idempotent: true,
  handler: async () => {
    throw new MeshError(Code.UNAVAILABLE, 'rate feed unavailable');
  },
};

// A tool that never answers by itself: it ends when its call is aborted (deadline, cancellation).
const hold: ToolSpec = {
  name: 'hold',
  description: 'Waits until its call is aborted.',
  argumentsSchema: { type: 'object' },
  idempotent: true,
  handler: async (_args, ctx) => {
    const signal = ctx.call.signal;
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    throw signal.reason;
  },
};

describe('a tool service serving MCP', () => {
  let mesh: TestMesh;
  let math: StubToolService;
  let open: StubToolService;
  let closed: StubToolService;
  let named: StubToolService;
  let slow: StubToolService;
  let tls: TlsSettings;
  const clients: Client[] = [];

  /** An MCP client of the SDK at `url`: the test caller's certificate (unless noCert), a bearer token when given. */
  async function connect(url: string, token?: string, options: { noCert?: boolean } = {}): Promise<Client> {
    const fetch = mtlsFetch(options.noCert ? { ca: tls.ca } : tls);
    const transport = new StreamableHTTPClientTransport(new URL(url), {
      fetch,
      requestInit: token ? { headers: { authorization: `Bearer ${token}` } } : undefined,
    });
    const client = new Client({ name: 'mcp-test', version: '1.0.0' });
    await client.connect(transport);
    clients.push(client);
    return client;
  }

  /** A raw POST to an MCP endpoint, for the HTTP answers the SDK client turns into exceptions. */
  const post = (
    url: string,
    headers: Record<string, string>,
    settings: TlsSettings = tls,
    message: Record<string, unknown> = { method: 'tools/list', params: {} },
  ) =>
    mtlsFetch(settings)(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, ...message }),
    });

  /** The audit records of a stub tool service so far. */
  const auditOf = (service: string) =>
    readFileSync(join(mesh.home, 'data', service.replace('/', '-'), 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  const token = (service: string, scopes = ['tools.invoke']) => mesh.tokens.getToken(service, scopes);

  beforeAll(async () => {
    // The process's tracing, as a service's preload sets it up: the W3C propagator and async context.
    initTracing({ service: 'mcp-test' });
    mesh = await startTestMesh({ tools: [TOOLS, OPEN, CLOSED, NAMED, SLOW] });
    const certs = join(mesh.home, 'certs');
    tls = {
      ca: readFileSync(join(certs, 'ca.crt')),
      cert: readFileSync(join(certs, 'agentmesh', 'cli.crt')),
      key: readFileSync(join(certs, 'agentmesh', 'cli.key')),
    };
    const mcp = { host: '127.0.0.1', port: 0 };
    math = await mesh.stubTools(TOOLS, [...tools, quote], { mcp });
    open = await mesh.stubTools(OPEN, tools.slice(0, 1), {
      mcp: { ...mcp, clientCert: 'optional' },
      policy: {
        service: OPEN,
        rules: [{ methods: ['agentmesh.v1.ToolService/*'], callers: ['*'], scopes: ['tools.invoke'] }],
      },
    });
    closed = await mesh.stubTools(CLOSED, tools.slice(0, 1), {
      mcp,
      policy: {
        service: CLOSED,
        rules: [
          {
            methods: ['agentmesh.v1.ToolService/*'],
            callers: ['spiffe://{trust_domain}/ns/lending/sa/credit-risk'],
            scopes: ['tools.invoke'],
          },
        ],
      },
    });
    // Optional certificates, but a policy naming workloads only: a certificate-less caller matches no rule.
    named = await mesh.stubTools(NAMED, tools.slice(0, 1), { mcp: { ...mcp, clientCert: 'optional' } });
    // MCP carries no deadline: the server's own (AGENTMESH_MCP_TIMEOUT_MS), small here so a held tool ends soon.
    slow = await mesh.stubTools(SLOW, [hold], { mcp: { ...mcp, timeoutMs: 300 } });
  }, 120_000);

  afterAll(async () => {
    for (const c of clients) await c.close();
    await mesh?.stop();
    await shutdownTracing();
  });

  test('lists the tools with their input and output schemas and idempotency hints', async () => {
    expect(math.mcpUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/mcp$/);
    const client = await connect(math.mcpUrl!, await token(TOOLS));
    const { tools: listed } = await client.listTools();
    expect(listed.map((t) => t.name)).toEqual(['convert', 'open-account', 'quote']);
    expect(listed[0]).toMatchObject({
      inputSchema: { type: 'object', required: ['amount'] },
      outputSchema: { type: 'object', required: ['amount', 'currency'] },
      annotations: { idempotentHint: true },
    });
    expect(listed[1]!.outputSchema).toBeUndefined();
    expect(listed[1]!.annotations?.idempotentHint).toBe(false);
    // The registry has the endpoint, for discovery by MCP-speaking callers.
    const { card } = await mesh.registry().getToolService({ name: TOOLS, version: '' });
    expect(card!.endpoints.map((e) => e.mcpUrl)).toEqual([math.mcpUrl]);
  });

  test('calls a tool: structured result, and its audit record joins the trace of _meta.traceparent', async () => {
    const bearer = await token(TOOLS);
    const client = await connect(math.mcpUrl!, bearer);
    const TOOLS_CALLER = (JSON.parse(Buffer.from(bearer.split('.')[1]!, 'base64url').toString()) as { sub: string })
      .sub;
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const result = await client.callTool({
      name: 'convert',
      arguments: { amount: 100 },
      _meta: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({ amount: 108, currency: 'USD' });
    expect(JSON.parse((result.content as { text: string }[])[0]!.text)).toEqual({ amount: 108, currency: 'USD' });
    // Who called, as the chain established it: the token's subject and the client certificate's SPIFFE ID.
    const cli = `spiffe://${mesh.trustDomain}/ns/agentmesh/sa/cli`;
    const audit = auditOf(TOOLS);
    expect(audit).toContainEqual(
      expect.objectContaining({
        kind: 'tool_invocation',
        resource: 'convert',
        outcome: 'OK',
        trace_id: traceId,
        method: 'agentmesh.v1.ToolService/InvokeTool',
        subject: TOOLS_CALLER,
        peer: cli,
      }),
    );
    expect(audit).toContainEqual(
      expect.objectContaining({
        kind: 'call',
        method: 'agentmesh.v1.ToolService/InvokeTool',
        outcome: 'OK',
        trace_id: traceId,
        subject: TOOLS_CALLER,
        peer: cli,
      }),
    );
  });

  test('a non-idempotent tool needs an idempotency key in _meta; the same key replays the result', async () => {
    const client = await connect(math.mcpUrl!, await token(TOOLS));
    const without = await client.callTool({ name: 'open-account', arguments: { owner: 'ada' } });
    expect(without.isError).toBe(true);
    expect((without.content as { text: string }[])[0]!.text).toMatch(/idempotency_key: required for open-account/);
    const call = { name: 'open-account', arguments: { owner: 'ada' }, _meta: { [KEY_META]: 'k-1' } };
    const first = await client.callTool(call);
    const again = await client.callTool(call);
    expect(first.structuredContent).toEqual({ account: 'ACC-1', owner: 'ada' });
    expect(again.structuredContent).toEqual(first.structuredContent);
    expect(math.callsOf('open-account')).toHaveLength(1);
  });

  test('bad arguments are a tool error naming the path; an unknown tool is invalid params', async () => {
    const client = await connect(math.mcpUrl!, await token(TOOLS));
    const bad = await client.callTool({ name: 'convert', arguments: { amount: -1 } });
    expect(bad.isError).toBe(true);
    expect((bad.content as { text: string }[])[0]!.text).toMatch(/^INVALID_ARGUMENT: arguments\/amount: must be >= 0/);
    await expect(client.callTool({ name: 'no-such-tool', arguments: {} })).rejects.toMatchObject({ code: -32602 });
  });

  test("a tool still running at the server's MCP deadline ends DEADLINE_EXCEEDED, and is audited so", async () => {
    const client = await connect(slow.mcpUrl!, await token(SLOW));
    await expect(client.callTool({ name: 'hold', arguments: {} })).rejects.toMatchObject({
      code: -32000,
      data: { 'io.agentmesh/code': 'DEADLINE_EXCEEDED' },
    });
    const audit = auditOf(SLOW);
    expect(audit).toContainEqual(
      expect.objectContaining({ kind: 'tool_invocation', resource: 'hold', outcome: 'DEADLINE_EXCEEDED' }),
    );
    expect(audit).toContainEqual(
      expect.objectContaining({
        kind: 'call',
        method: 'agentmesh.v1.ToolService/InvokeTool',
        outcome: 'DEADLINE_EXCEEDED',
      }),
    );
  });

  test('a transient failure is a JSON-RPC error -32000 naming its gRPC code, not a tool result', async () => {
    const client = await connect(math.mcpUrl!, await token(TOOLS));
    await expect(client.callTool({ name: 'quote', arguments: {} })).rejects.toMatchObject({
      code: -32000,
      message: expect.stringContaining('UNAVAILABLE: rate feed unavailable'),
      data: { 'io.agentmesh/code': 'UNAVAILABLE' },
    });
  });

  test('no token: 401 with a challenge whose metadata names the authorization server, resource and scopes', async () => {
    const res = await post(math.mcpUrl!, {});
    expect(res.status).toBe(401);
    // RFC 6750 §3.1: no error code when no token came, in the body as in the header.
    expect(await res.json()).toEqual({ error_description: 'missing bearer access token' });
    // Recorded as a refused gRPC call is: the auth_failure audit record of the method the body needs.
    expect(auditOf(TOOLS)).toContainEqual(
      expect.objectContaining({
        kind: 'auth_failure',
        method: 'agentmesh.v1.ToolService/ListTools',
        outcome: 'UNAUTHENTICATED',
        reason: 'missing bearer access token',
      }),
    );
    // The SDK's client says why.
    await expect(connect(math.mcpUrl!)).rejects.toThrow(/missing bearer access token/);
    const challenge = res.headers.get('www-authenticate')!;
    expect(challenge).toMatch(/^Bearer /);
    expect(challenge).not.toMatch(/error=/);
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)![1]!;
    expect(metadataUrl).toBe(math.mcpUrl!.replace('/mcp', '/.well-known/oauth-protected-resource/mcp'));
    expect(challenge).toMatch(/scope="tools\.invoke"/);
    const doc = (await (await mtlsFetch(tls)(metadataUrl)).json()) as Record<string, unknown>;
    expect(doc).toEqual({
      resource: math.mcpUrl,
      authorization_servers: [mesh.issuer],
      scopes_supported: ['tools.invoke'],
      bearer_methods_supported: ['header'],
      resource_name: `${TOOLS} (agentmesh tool service)`,
    });
  });

  test('a token for another audience: 401 invalid_token', async () => {
    const res = await post(math.mcpUrl!, { authorization: `Bearer ${await token(OPEN)}` });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    expect(((await res.json()) as { error_description: string }).error_description).toMatch(/not issued for/);
    expect(auditOf(TOOLS)).toContainEqual(
      expect.objectContaining({
        kind: 'auth_failure',
        method: 'agentmesh.v1.ToolService/ListTools',
        reason: expect.stringMatching(/not issued for/),
      }),
    );
  });

  test('a token without tools.invoke: 403 insufficient_scope; a caller the policy does not name: 403 alone', async () => {
    const scopeless = await post(math.mcpUrl!, { authorization: `Bearer ${await token(TOOLS, ['task.read'])}` }, tls, {
      method: 'tools/call',
      params: { name: 'convert', arguments: { amount: 1 } },
    });
    expect(scopeless.status).toBe(403);
    expect(scopeless.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
    expect(scopeless.headers.get('www-authenticate')).toMatch(/scope="tools\.invoke"/);
    await expect(connect(math.mcpUrl!, await token(TOOLS, ['task.read']))).rejects.toThrow(
      /Insufficient scope: required "tools\.invoke"/,
    );
    expect(auditOf(TOOLS)).toContainEqual(
      expect.objectContaining({
        kind: 'authz_denied',
        method: 'agentmesh.v1.ToolService/InvokeTool',
        outcome: 'PERMISSION_DENIED',
        reason: expect.stringMatching(/token lacks scope tools\.invoke/),
      }),
    );
    const stranger = await post(closed.mcpUrl!, { authorization: `Bearer ${await token(CLOSED)}` });
    expect(stranger.status).toBe(403);
    // Another token would not help: no insufficient_scope for a caller the policy does not name.
    expect(stranger.headers.get('www-authenticate')).not.toMatch(/error=/);
    const refused = (await stranger.json()) as { error?: string; error_description: string };
    expect(refused.error).toBeUndefined();
    expect(refused.error_description).toMatch(/caller spiffe:\/\/.*\/ns\/agentmesh\/sa\/cli is not allowed/);
    expect(auditOf(CLOSED)).toContainEqual(
      expect.objectContaining({
        kind: 'authz_denied',
        method: 'agentmesh.v1.ToolService/ListTools',
        peer: `spiffe://${mesh.trustDomain}/ns/agentmesh/sa/cli`,
      }),
    );
    expect(closed.calls).toHaveLength(0);
  });

  test('required client certificates: a caller without one is refused by TLS', async () => {
    await expect(post(math.mcpUrl!, { authorization: `Bearer ${await token(TOOLS)}` }, { ca: tls.ca })).rejects.toThrow(
      /certificate required|socket hang up|ECONNRESET/,
    );
  });

  test('optional client certificates: a caller without one gets in through a "*" rule only', async () => {
    const client = await connect(open.mcpUrl!, await token(OPEN), { noCert: true });
    const result = await client.callTool({ name: 'convert', arguments: { amount: 10 } });
    expect(result.structuredContent).toEqual({ amount: 10.8, currency: 'USD' });
    expect(open.callsOf('convert')).toHaveLength(1);
    const anonymous = await post(named.mcpUrl!, { authorization: `Bearer ${await token(NAMED)}` }, { ca: tls.ca });
    expect(anonymous.status).toBe(403);
    expect(((await anonymous.json()) as { error_description: string }).error_description).toMatch(
      /caller \(no workload identity\) is not allowed/,
    );
    // Optional is no way around the CA: a certificate of another CA is still refused by TLS.
    const foreign = await issueWorkloadCert(await createCa(mesh.trustDomain, 1), {
      spiffeId: `spiffe://${mesh.trustDomain}/ns/agentmesh/sa/cli`,
      commonName: 'agentmesh/cli',
    });
    await expect(
      post(open.mcpUrl!, { authorization: `Bearer ${await token(OPEN)}` }, { ca: tls.ca, ...foreign }),
    ).rejects.toThrow(/socket hang up|ECONNRESET/);
    // The same service admits the caller that presents its certificate.
    expect((await post(named.mcpUrl!, { authorization: `Bearer ${await token(NAMED)}` })).status).toBe(200);
    expect(named.calls).toHaveLength(0);
  });

  test('only POST on /mcp; a foreign Origin and a body over 1 MiB are refused', async () => {
    const get = await mtlsFetch(tls)(math.mcpUrl!, { headers: { authorization: `Bearer ${await token(TOOLS)}` } });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    const foreign = await post(math.mcpUrl!, {
      authorization: `Bearer ${await token(TOOLS)}`,
      origin: 'https://evil.example',
    });
    expect(foreign.status).toBe(403);
    const before = math.calls.length;
    const huge = await mtlsFetch(tls)(math.mcpUrl!, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await token(TOOLS)}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { pad: 'x'.repeat(1024 * 1024) } }),
    });
    expect(huge.status).toBe(413);
    expect(math.calls).toHaveLength(before);
    // The token is checked from the header before any body is read: no token, no megabyte read.
    const anonymous = await mtlsFetch(tls)(math.mcpUrl!, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { pad: 'x'.repeat(1024 * 1024) } }),
    });
    expect(anonymous.status).toBe(401);
  });
});
