// The endpoint while its server drains: a 503 with Retry-After before the token check and the
// MCP layer, so a client retries on another replica instead of reading a tool error.
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ServerCredentials } from '@grpc/grpc-js';
import pino from 'pino';
import { ToolServiceService } from '../../../gen/agentmesh/v1/tool_service.js';
import { parsePolicy, TokenError, Transport, type TokenCheck } from '../../security/index.js';
import { createServer } from '../../server/index.js';
import { mcpEndpoint } from './mcp-endpoint.js';

describe('the MCP endpoint', () => {
  let http: Server;
  afterAll(() => new Promise((resolve) => http.close(resolve)));

  test('refuses an unparseable Origin; answers 503 with Retry-After once the server stops accepting calls, without checking the token', async () => {
    const log = pino({ level: 'silent' });
    const server = createServer({ logger: log }).add(ToolServiceService, {
      listTools: async () => ({ card: undefined }),
    });
    await server.listen('127.0.0.1:0', ServerCredentials.createInsecure());
    let verified = 0;
    const verifier = {
      verify: async () => {
        verified++;
        throw new TokenError('malformed', 'token malformed');
      },
      principalOf: () => ({ subject: '', scopes: [] }),
    } as unknown as TokenCheck;
    const endpoint = mcpEndpoint({
      server,
      name: 'test/tools',
      version: '1',
      transport: new Transport({ mode: 'insecure', trustDomain: 'agentmesh.test' }),
      timeoutMs: 30_000,
      optionalIdentity: true,
      gate: { verifier, policy: parsePolicy({ service: 'test/tools', rules: [] }, 'agentmesh.test') },
      metadata: () => ({
        document: {
          resource: 'http://x/mcp',
          authorization_servers: [],
          scopes_supported: [],
          bearer_methods_supported: ['header'],
          resource_name: 'x',
        },
        url: 'http://x/.well-known/oauth-protected-resource/mcp',
        challengeScopes: [],
      }),
      // As mcp-server.ts before the origin is known: an empty one.
      allowedOrigins: () => ['', 'http://127.0.0.1:1'],
      log,
    });
    http = createHttpServer(endpoint);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
    const post = () =>
      fetch(url, {
        method: 'POST',
        headers: { authorization: 'Bearer x.y.z', 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
    // Serving: the request reaches the token check.
    expect((await post()).status).toBe(401);
    expect(verified).toBe(1);
    // An Origin that is no URL ("null", sent for opaque origins) matches no allowed origin, an empty one neither.
    for (const origin of ['null', 'not a url']) {
      const foreign = await fetch(url, {
        method: 'POST',
        headers: { origin, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(foreign.status).toBe(403);
    }
    expect(verified).toBe(1);
    await server.shutdown();
    const draining = await post();
    expect(draining.status).toBe(503);
    expect(draining.headers.get('retry-after')).toBe('1');
    expect(verified).toBe(1);
  });
});
