// An MCP server of another organisation, built with the official SDK (McpServer, the Node
// Streamable HTTP transport, stateless) over HTTPS with a certificate of its own CA. Every POST is
// recorded before it is judged (path, JSON-RPC method, tool, `_meta`, Authorization header); the
// bearer check is the test's. Tools: lookup-rate (structured result), refuse-quote (isError),
// book-payment (JSON text result), greet (plain text). A tool in `unavailableOnce` answers HTTP 503
// to its first call (nothing done); a tool in `loseAnswerOnce` acts and then the connection drops;
// a tool in `hold` acts and answers only when released.
import { createServer, type Server } from 'node:https';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/server';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import * as z from 'zod';

/** One POST the server received. */
export interface PartnerRequest {
  path: string;
  method: string;
  tool?: string;
  meta?: Record<string, unknown>;
  authorization: string;
}

/** The partner's MCP server: what it received and what its tools did. */
export class McpPartner {
  readonly requests: PartnerRequest[] = [];
  /** Tool executions (their handlers ran), by tool name, in order. */
  readonly executed: string[] = [];
  /** Tools whose first tools/call is answered 503 (the handler does not run). */
  readonly unavailableOnce = new Set<string>();
  /** Tools whose first execution's answer is lost (the connection is destroyed after the handler ran). */
  readonly loseAnswerOnce = new Set<string>();
  /** Tools whose tools/call is answered 403 insufficient_scope (as agentmesh's MCP servers refuse by policy). */
  readonly forbidden = new Set<string>();
  /** Tools whose tools/call is answered 400 with a body echoing the request's Authorization header (and a terminal escape). */
  readonly echoAuthorization = new Set<string>();
  /** Sessions of /stateful/mcp (the one stateful endpoint), by id. */
  private readonly sessions = new Map<string, NodeStreamableHTTPServerTransport>();
  /** Session ids of /stateful/mcp that clients ended with DELETE. */
  readonly sessionsEnded: string[] = [];
  /** Tools whose next execution waits (acting, not answering) until release(). */
  readonly hold = new Set<string>();
  private held: (() => void)[] = [];
  private server?: Server;
  port = 0;

  constructor(
    private readonly tls: { cert: string; key: string },
    /** Whether the Authorization header may call the server under `path`. */
    private readonly authorized: (path: string, authorization: string) => Promise<boolean>,
  ) {}

  /** The tools/call requests for `tool`, as received (also those refused or answered 503). */
  calls(tool: string): PartnerRequest[] {
    return this.requests.filter((r) => r.method === 'tools/call' && r.tool === tool);
  }

  url(path: string): string {
    return `https://127.0.0.1:${this.port}${path}`;
  }

  /** A fresh SDK server (stateless: one per request); `lose` drops the current request's connection. */
  private mcpServer(lose: () => void): McpServer {
    const server = new McpServer({ name: 'partner', version: '3.0.0' });
    const ran = async (tool: string) => {
      this.executed.push(tool);
      if (this.loseAnswerOnce.delete(tool)) lose();
      if (this.hold.delete(tool)) await new Promise<void>((resolve) => this.held.push(resolve));
    };
    server.registerTool(
      'lookup-rate',
      {
        description: 'The rate of a currency',
        inputSchema: z.object({ currency: z.string() }),
        outputSchema: z.object({ currency: z.string(), rate: z.number() }),
        annotations: { idempotentHint: true, readOnlyHint: true },
      },
      async ({ currency }) => {
        await ran('lookup-rate');
        const out = { currency, rate: 1.25 };
        return { content: [{ type: 'text', text: JSON.stringify(out) }], structuredContent: out };
      },
    );
    server.registerTool(
      'refuse-quote',
      { description: 'Refuses', inputSchema: z.object({ currency: z.string() }) },
      async ({ currency }) => {
        await ran('refuse-quote');
        return { content: [{ type: 'text', text: `no quote for ${currency} today` }], isError: true };
      },
    );
    server.registerTool(
      'book-payment',
      { description: 'Books a payment', inputSchema: z.object({ amount: z.number() }) },
      async ({ amount }) => {
        await ran('book-payment');
        return { content: [{ type: 'text', text: JSON.stringify({ booked: true, amount }) }] };
      },
    );
    server.registerTool('greet', { description: 'Says hello', inputSchema: z.object({}) }, async () => {
      await ran('greet');
      return { content: [{ type: 'text', text: 'hello from the partner' }] };
    });
    return server;
  }

  async start(): Promise<void> {
    this.server = createServer({ cert: this.tls.cert, key: this.tls.key }, (req, res) => {
      void (async () => {
        const path = new URL(req.url ?? '/', 'https://partner').pathname;
        if (path === '/stateful/mcp') return this.stateful(req, res);
        if (req.method !== 'POST') {
          res.writeHead(405).end();
          return;
        }
        const chunks: Buffer[] = [];
        for await (const chunk of req) chunks.push(chunk as Buffer);
        const body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as {
          method?: string;
          params?: { name?: string; _meta?: Record<string, unknown> };
        };
        const method = body.method ?? '';
        const tool = method === 'tools/call' ? body.params?.name : undefined;
        const authorization = req.headers.authorization ?? '';
        this.requests.push({ path, method, tool, meta: body.params?._meta, authorization });
        if (!(await this.authorized(path, authorization))) {
          res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end();
          return;
        }
        if (tool && this.forbidden.has(tool)) {
          const challenge = `Bearer error="insufficient_scope", scope="payments.write", resource_metadata="${this.url('/.well-known/oauth-protected-resource/mcp')}"`;
          res.writeHead(403, { 'www-authenticate': challenge, 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: 'insufficient_scope' }));
          return;
        }
        if (tool && this.echoAuthorization.has(tool)) {
          res.writeHead(400, { 'content-type': 'text/plain' });
          res.end(`bad request\u001b[2J\nyou sent: authorization: ${authorization}`);
          return;
        }
        if (tool && this.unavailableOnce.delete(tool)) {
          res.writeHead(503, { 'content-type': 'text/plain' }).end('busy, try again');
          return;
        }
        const server = this.mcpServer(() => res.socket?.destroy());
        const transport = new NodeStreamableHTTPServerTransport({ sessionIdGenerator: undefined });
        res.on('close', () => {
          void transport.close();
          void server.close();
        });
        await server.connect(transport);
        await transport.handleRequest(req, res, body);
      })().catch(() => res.socket?.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** /stateful/mcp: the SDK's transport with sessions (initialize opens one, DELETE ends it). */
  private async stateful(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const authorization = req.headers.authorization ?? '';
    if (!(await this.authorized('/stateful/mcp', authorization))) return void res.writeHead(401).end();
    const sid = req.headers['mcp-session-id'] as string | undefined;
    if (req.method === 'DELETE' && sid) this.sessionsEnded.push(sid);
    let transport = sid ? this.sessions.get(sid) : undefined;
    if (!transport) {
      if (sid) return void res.writeHead(404).end();
      const created = new NodeStreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => void this.sessions.set(id, created),
      });
      await this.mcpServer(() => res.socket?.destroy()).connect(created);
      transport = created;
    }
    let body: unknown;
    if (req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as unknown;
      const b = body as { method?: string; params?: { name?: string; _meta?: Record<string, unknown> } };
      const tool = b.method === 'tools/call' ? b.params?.name : undefined;
      this.requests.push({ path: '/stateful/mcp', method: b.method ?? '', tool, meta: b.params?._meta, authorization });
    }
    await transport.handleRequest(req, res, body);
  }

  /** Lets every held execution answer. */
  release(): void {
    for (const resolve of this.held.splice(0)) resolve();
  }

  async stop(): Promise<void> {
    this.release();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
