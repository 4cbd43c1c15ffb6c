// A third-party MCP server for tests: the official SDK's McpServer (or its low-level Server, for
// paged listings) over Streamable HTTP, stateless, on HTTPS with a certificate of its own CA (not
// the mesh's), optionally demanding a bearer token.
import { createServer, type Server as HttpsServer } from 'node:https';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import { fromJsonSchema, McpServer, Server, type Tool } from '@modelcontextprotocol/server';
import { createCa, issueWorkloadCert } from '../../mesh/security/dev-ca.js';

/** A tool the test server offers: its listing and a canned result. */
export interface TestMcpTool {
  name: string;
  title?: string;
  description?: string;
  inputSchema: Record<string, unknown>;
  outputSchema?: Record<string, unknown>;
  annotations?: Tool['annotations'];
}

/** A running test MCP server. */
export interface TestMcpServer {
  /** https://localhost:<port>/mcp */
  url: string;
  caPem: string;
  caFile: string;
  /** The Authorization header of every request received. */
  authorizations: (string | undefined)[];
  close(): Promise<void>;
}

/** Options of startTestMcpServer. */
export interface TestMcpServerOptions {
  tools: TestMcpTool[];
  /** When set, requests without `Authorization: Bearer <bearer>` get a 401 challenge. */
  bearer?: string;
  /** When set, tools/list answers in pages of this size (the low-level Server with cursors). */
  pageSize?: number;
  serverInfo?: { name: string; version: string; description?: string };
}

function mcpServerFor(options: TestMcpServerOptions): McpServer | Server {
  const info = options.serverInfo ?? { name: 'weather-mcp', version: '3.1.0' };
  if (!options.pageSize) {
    const server = new McpServer(info);
    for (const t of options.tools)
      server.registerTool(
        t.name,
        {
          ...(t.title ? { title: t.title } : {}),
          ...(t.description ? { description: t.description } : {}),
          inputSchema: fromJsonSchema(t.inputSchema as never),
          ...(t.outputSchema ? { outputSchema: fromJsonSchema(t.outputSchema as never) } : {}),
          ...(t.annotations ? { annotations: t.annotations } : {}),
        },
        () => ({ content: [{ type: 'text', text: 'ok' }] }),
      );
    return server;
  }
  const server = new Server(info, { capabilities: { tools: {} } });
  const size = options.pageSize;
  server.setRequestHandler('tools/list', (request) => {
    const from = Number(request.params?.cursor ?? 0);
    const page = options.tools.slice(from, from + size) as Tool[];
    return { tools: page, ...(from + size < options.tools.length ? { nextCursor: String(from + size) } : {}) };
  });
  return server;
}

/** Starts the server on 127.0.0.1 (its certificate names localhost). */
export async function startTestMcpServer(options: TestMcpServerOptions): Promise<TestMcpServer> {
  const ca = await createCa('partner.example', 1);
  const pair = await issueWorkloadCert(ca, {
    spiffeId: 'spiffe://partner.example/ns/partners/sa/weather-mcp',
    commonName: 'weather-mcp',
  });
  const dir = mkdtempSync(join(tmpdir(), 'mcp-server-'));
  const caFile = join(dir, 'ca.crt');
  writeFileSync(caFile, ca.certPem);
  const authorizations: (string | undefined)[] = [];
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    authorizations.push(req.headers.authorization);
    if (options.bearer && req.headers.authorization !== `Bearer ${options.bearer}`) {
      res
        .writeHead(401, { 'www-authenticate': 'Bearer resource_metadata="https://localhost/.well-known/x"' })
        .end('unauthorized');
      return;
    }
    const server = mcpServerFor(options);
    const transport = new NodeStreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => void transport.close().then(() => server.close()));
    await server.connect(transport);
    await transport.handleRequest(req, res);
  };
  const https: HttpsServer = createServer({ cert: pair.cert, key: pair.key }, (req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
  const { port } = https.address() as { port: number };
  return {
    url: `https://localhost:${port}/mcp`,
    caPem: ca.certPem,
    caFile,
    authorizations,
    async close() {
      https.closeAllConnections();
      await new Promise((resolve) => https.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
