import { McpAuthMode, type ExternalMcpServer } from '../../gen/agentmesh/v1/card.js';
import { Code } from '../core/index.js';
import { externalEndpointOf, isExternalCardJson } from './external-card.js';
import {
  checkExternalMcpServer,
  isLoopbackOrLinkLocal,
  mcpAddressOf,
  parseExternalHttpsUrl,
  parseMcpSecretRef,
} from './external-mcp.js';

const server = (over: Partial<ExternalMcpServer> = {}, auth: Partial<ExternalMcpServer['auth']> = {}) =>
  ({
    url: 'https://tools.example/mcp',
    external: true,
    caPem: '',
    protocolVersion: '',
    auth: {
      mode: McpAuthMode.MCP_AUTH_MODE_TOKEN_EXCHANGE,
      tokenUrl: '',
      clientId: '',
      secret: '',
      resource: '',
      scopes: ['weather.read'],
      ...auth,
    },
    ...over,
  }) as ExternalMcpServer;

const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err as { code: Code; message: string };
  }
  throw new Error('not refused');
};

describe('external MCP server validation', () => {
  test('https URLs only, with nothing that could carry a credential', () => {
    expect(parseExternalHttpsUrl('https://tools.example:8443/a/mcp', 'u').host).toBe('tools.example:8443');
    for (const [url, problem] of [
      ['', 'required'],
      ['tools.example/mcp', 'not an absolute URL'],
      ['ftp://tools.example/mcp', 'must be an https:// URL'],
      ['https://user@tools.example/mcp', 'must not carry a user'],
      ['https://tools.example/mcp?', 'must not have a query'],
      ['https://tools.example/mcp?api_key=1', 'must not have a query'],
      ['https://tools.example/mcp#', 'must not have a fragment'],
      [`https://tools.example/${'a'.repeat(2100)}`, 'longer than'],
    ]) {
      const err = refusal(() => parseExternalHttpsUrl(url!, 'card.mcp.url'));
      expect(err.code).toBe(Code.INVALID_ARGUMENT);
      expect(err.message).toContain(`card.mcp.url: ${problem}`);
    }
  });

  test('the address is host:port, 443 by default, IPv6 bracketed', () => {
    expect(mcpAddressOf(new URL('https://tools.example/mcp'))).toBe('tools.example:443');
    expect(mcpAddressOf(new URL('https://tools.example:443/mcp'))).toBe('tools.example:443');
    expect(mcpAddressOf(new URL('https://[::1]:9443/mcp'))).toBe('[::1]:9443');
  });

  test('secret references: <path> or <path>#<field>', () => {
    expect(parseMcpSecretRef('mcp/partners/weather')).toEqual({ path: 'mcp/partners/weather' });
    expect(parseMcpSecretRef('mcp/partners/weather#api_key')).toEqual({
      path: 'mcp/partners/weather',
      field: 'api_key',
    });
    // Only secrets under mcp/: an entry cannot have agents send another of their secrets out.
    for (const outside of ['db/payments#password', 'mcp', 'mcpx/a', 'partners/weather#api_key'])
      expect(refusal(() => parseMcpSecretRef(outside)).message).toContain('must name a secret under mcp/');
    for (const bad of ['', '/abs', 'a//b', 'a/../b', 'mcp/../db', 'a b', 'a#', 'a#b#c', 'mcp/a#f ield'])
      expect(refusal(() => parseMcpSecretRef(bad)).message).toMatch(/^card\.mcp\.auth\.secret: /);
  });

  test.each([
    [{}, {}, undefined],
    [
      {},
      { mode: McpAuthMode.MCP_AUTH_MODE_TOKEN_EXCHANGE, resource: 'https://x' },
      'card.mcp.auth.resource: must be empty for TOKEN_EXCHANGE',
    ],
    [{}, { scopes: [] }, 'card.mcp.auth.scopes: required for TOKEN_EXCHANGE'],
    [
      {},
      { mode: McpAuthMode.MCP_AUTH_MODE_CLIENT_CREDENTIALS, scopes: [] },
      'card.mcp.auth.scopes: required without a token_url',
    ],
    [
      {},
      { mode: McpAuthMode.MCP_AUTH_MODE_CLIENT_CREDENTIALS, resource: 'https://x' },
      'card.mcp.auth.resource: must be empty without a token_url',
    ],
    [
      {},
      {
        mode: McpAuthMode.MCP_AUTH_MODE_CLIENT_CREDENTIALS,
        tokenUrl: 'https://as.example/token',
        clientId: 'mesh',
        secret: 'mcp/partners/as',
        resource: 'urn:partner:weather',
        scopes: [],
      },
      undefined,
    ],
    [{}, { mode: McpAuthMode.MCP_AUTH_MODE_CLIENT_CREDENTIALS }, undefined],
    [
      {},
      {
        mode: McpAuthMode.MCP_AUTH_MODE_CLIENT_CREDENTIALS,
        tokenUrl: 'https://as.example/token',
        clientId: 'mesh',
        secret: 'mcp/partners/as#client_secret',
      },
      undefined,
    ],
    [{}, { mode: McpAuthMode.MCP_AUTH_MODE_STATIC_SECRET, secret: 'mcp/partners/key', scopes: [] }, undefined],
    [{ external: false }, {}, 'card.mcp.external'],
    [{}, { mode: McpAuthMode.UNRECOGNIZED }, 'card.mcp.auth.mode'],
    [{}, { clientId: 'x' }, 'card.mcp.auth.client_id: must be empty for TOKEN_EXCHANGE'],
    [{}, { secret: 'x' }, 'card.mcp.auth.secret: must be empty for TOKEN_EXCHANGE'],
    [
      {},
      { mode: McpAuthMode.MCP_AUTH_MODE_CLIENT_CREDENTIALS, clientId: 'x' },
      'card.mcp.auth.client_id: must be empty without a token_url',
    ],
    [
      {},
      { mode: McpAuthMode.MCP_AUTH_MODE_STATIC_SECRET, secret: 'k', scopes: ['a'] },
      'card.mcp.auth.scopes: must be empty for STATIC_SECRET',
    ],
    [
      {},
      { mode: McpAuthMode.MCP_AUTH_MODE_STATIC_SECRET, secret: 'k', resource: 'r' },
      'card.mcp.auth.resource: must be empty for STATIC_SECRET',
    ],
    [
      {},
      {
        mode: McpAuthMode.MCP_AUTH_MODE_CLIENT_CREDENTIALS,
        tokenUrl: 'https://as.example/token',
        clientId: 'mesh',
        secret: 'mcp/partners/as',
        resource: 'a b',
      },
      'card.mcp.auth.resource: must be a URI',
    ],
    [{ protocolVersion: '2025 11' }, {}, 'card.mcp.protocol_version'],
  ])('server %j auth %j: %s', (over, auth, problem) => {
    const check = () => checkExternalMcpServer(server(over, auth));
    if (problem === undefined) expect(check().href).toBe('https://tools.example/mcp');
    else expect(refusal(check).message).toContain(problem);
  });

  test('loopback and link-local hosts by spelling', () => {
    for (const url of [
      'https://127.0.0.1/mcp',
      'https://127.9.9.9/mcp',
      'https://0.0.0.0/mcp',
      'https://169.254.169.254/mcp',
      'https://localhost:8443/mcp',
      'https://api.localhost/mcp',
      'https://[::1]/mcp',
      'https://[fe80::1]/mcp',
      'https://[::ffff:127.0.0.1]/mcp',
    ])
      expect([url, isLoopbackOrLinkLocal(new URL(url).hostname)]).toEqual([url, true]);
    for (const url of [
      'https://10.0.0.1/mcp',
      'https://tools.example/mcp',
      'https://[2001:db8::1]/mcp',
      'https://128.0.0.1/',
    ])
      expect([url, isLoopbackOrLinkLocal(new URL(url).hostname)]).toEqual([url, false]);
  });

  test('stored tool cards: the URL is the one endpoint, a broken one gives none', () => {
    const card = { name: 'partners/t', mcp: { url: 'https://tools.example:8443/mcp', external: true } };
    expect(isExternalCardJson(card)).toBe(true);
    expect(externalEndpointOf(card)).toEqual({
      address: 'tools.example:8443',
      adminAddress: '',
      instanceId: 'external',
      mcpUrl: 'https://tools.example:8443/mcp',
    });
    expect(externalEndpointOf({ mcp: { url: 'http://x/mcp', external: true } })).toBeUndefined();
    expect(isExternalCardJson({ mcp: { url: 'https://x/mcp', external: false } })).toBe(false);
  });
});
