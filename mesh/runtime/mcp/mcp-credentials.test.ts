import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ExternalMcpServer, McpAuthMode } from '../../../gen/agentmesh/v1/card.js';
import { Code, MeshError } from '../../core/index.js';
import { createCa, issueWorkloadCert } from '../../security/index.js';
import { isAuthorityRequired } from '../executor.js';
import { McpCredentials, parseSecretRef, type McpCredentialSources } from './mcp-credentials.js';

const NAME = 'partners/rates';
const URL_ = 'https://rates.partner.example/mcp';

/** Sources recording what was asked of them. */
function sources(secrets: Record<string, Record<string, string>> = {}) {
  const asked: string[] = [];
  const s: McpCredentialSources = {
    meshToken: (audience, scopes) => {
      asked.push(`mesh ${audience} ${scopes.join(',')}`);
      return Promise.resolve(`mesh-token-for-${audience}`);
    },
    exchange: (subject, audience, scopes) => {
      asked.push(`exchange ${subject} ${audience} ${scopes.join(',')}`);
      return Promise.resolve(`exchanged-for-${audience}`);
    },
    readSecret: (path) => {
      asked.push(`secret ${path}`);
      const found = secrets[path];
      return found ? Promise.resolve(found) : Promise.reject(new Error(`secret ${path} not found`));
    },
  };
  return { sources: s, asked };
}

const mcp = (auth: Partial<ExternalMcpServer['auth']>, caPem = '', url = URL_) =>
  ExternalMcpServer.fromPartial({ url, external: true, caPem, auth });

const failure = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return err as MeshError;
  }
  throw new Error('expected a failure');
};

describe('parseSecretRef', () => {
  test('path and field; the field defaults', () => {
    expect(parseSecretRef('partners/ledger#api_key', 'token')).toEqual({ path: 'partners/ledger', field: 'api_key' });
    expect(parseSecretRef('partners/ledger', 'token')).toEqual({ path: 'partners/ledger', field: 'token' });
    expect(parseSecretRef('partners/ledger#', 'client_secret')).toEqual({
      path: 'partners/ledger',
      field: 'client_secret',
    });
  });
});

describe('McpCredentials per auth mode', () => {
  test("CLIENT_CREDENTIALS without a token URL: the agent's own mesh token for the registered name and scopes", async () => {
    const { sources: s, asked } = sources();
    const token = await new McpCredentials(s).bearer(
      NAME,
      mcp({ mode: McpAuthMode.MCP_AUTH_MODE_CLIENT_CREDENTIALS, scopes: ['rates.read'] }),
      () => 'caller-token',
    );
    expect(token).toBe(`mesh-token-for-${NAME}`);
    expect(asked).toEqual([`mesh ${NAME} rates.read`]);
    // Without scopes the mesh token would carry all of the agent's: refused before asking.
    const none = await failure(
      new McpCredentials(s).bearer(NAME, mcp({ mode: McpAuthMode.MCP_AUTH_MODE_CLIENT_CREDENTIALS }), () => 'c'),
    );
    expect(none.code).toBe(Code.FAILED_PRECONDITION);
    expect(asked).toHaveLength(1);
  });

  test("TOKEN_EXCHANGE: the caller's token exchanged for the registered name, never returned itself", async () => {
    const { sources: s, asked } = sources();
    const token = await new McpCredentials(s).bearer(
      NAME,
      mcp({ mode: McpAuthMode.MCP_AUTH_MODE_TOKEN_EXCHANGE, scopes: ['rates.read'] }),
      () => 'caller-token',
    );
    expect(token).toBe(`exchanged-for-${NAME}`);
    expect(asked).toEqual([`exchange caller-token ${NAME} rates.read`]);
  });

  test('TOKEN_EXCHANGE without scopes is refused: the token would carry every scope of the caller', async () => {
    const { sources: s, asked } = sources();
    const err = await failure(
      new McpCredentials(s).bearer(NAME, mcp({ mode: McpAuthMode.MCP_AUTH_MODE_TOKEN_EXCHANGE }), () => 'caller-token'),
    );
    expect(err.code).toBe(Code.FAILED_PRECONDITION);
    expect(asked).toEqual([]);
  });

  test("TOKEN_EXCHANGE without the caller's token pauses the task (authority required), asking nothing", async () => {
    const { sources: s, asked } = sources();
    const err = await failure(
      new McpCredentials(s).bearer(
        NAME,
        mcp({ mode: McpAuthMode.MCP_AUTH_MODE_TOKEN_EXCHANGE, scopes: ['rates.read'] }),
        () => undefined,
      ),
    );
    expect(isAuthorityRequired(err)).toBe(true);
    expect(asked).toEqual([]);
  });

  test('TOKEN_EXCHANGE with a token URL is refused: the caller’s token goes to no other issuer', async () => {
    const { sources: s, asked } = sources();
    const err = await failure(
      new McpCredentials(s).bearer(
        NAME,
        mcp({
          mode: McpAuthMode.MCP_AUTH_MODE_TOKEN_EXCHANGE,
          tokenUrl: 'https://idp.partner.example/token',
          scopes: ['rates.read'],
        }),
        () => 'caller-token',
      ),
    );
    expect(err.code).toBe(Code.FAILED_PRECONDITION);
    expect(asked).toEqual([]);
  });

  test('STATIC_SECRET: the named field (default token); a missing one is FAILED_PRECONDITION without any value', async () => {
    const { sources: s } = sources({ 'mcp/partners/ledger': { token: 'tok-1', api_key: 'key-2' } });
    const creds = new McpCredentials(s);
    const mode = McpAuthMode.MCP_AUTH_MODE_STATIC_SECRET;
    expect(await creds.bearer(NAME, mcp({ mode, secret: 'mcp/partners/ledger' }), () => 'caller')).toBe('tok-1');
    expect(await creds.bearer(NAME, mcp({ mode, secret: 'mcp/partners/ledger#api_key' }), () => 'caller')).toBe(
      'key-2',
    );
    const missing = await failure(
      creds.bearer(NAME, mcp({ mode, secret: 'mcp/partners/ledger#other' }), () => 'caller'),
    );
    expect(missing.code).toBe(Code.FAILED_PRECONDITION);
    expect(missing.message).toContain('mcp/partners/ledger has no field other');
    expect(missing.message).not.toMatch(/tok-1|key-2/);
    const unreadable = await failure(creds.bearer(NAME, mcp({ mode, secret: 'mcp/nowhere' }), () => 'caller'));
    expect(unreadable.code).toBe(Code.FAILED_PRECONDITION);
  });

  test('a secret outside the MCP prefix is refused before anything is read (FAILED_PRECONDITION)', async () => {
    const { sources: s, asked } = sources({ 'db/payments': { password: 'pg-pass' }, 'team/mcp/x': { token: 't' } });
    const mode = McpAuthMode.MCP_AUTH_MODE_STATIC_SECRET;
    for (const secret of ['db/payments#password', 'mcp', 'mcp/', 'mcp/../db/payments#password', 'team/mcp/x']) {
      const err = await failure(new McpCredentials(s).bearer(NAME, mcp({ mode, secret }), () => 'caller'));
      expect(err.code).toBe(Code.FAILED_PRECONDITION);
      expect(err.message).toContain('AGENTMESH_MCP_SECRET_PREFIX');
      expect(err.message).not.toContain('pg-pass');
    }
    // A narrower prefix of the operator's: mcp/ itself is then outside.
    const narrow = { ...s, secretPrefix: 'mcp/payments/' };
    const err = await failure(
      new McpCredentials(narrow).bearer(NAME, mcp({ mode, secret: 'mcp/other#token' }), () => 'c'),
    );
    expect(err.code).toBe(Code.FAILED_PRECONDITION);
    // Client credentials at another AS: the client secret is confined the same way.
    const cc = mcp({
      mode: McpAuthMode.MCP_AUTH_MODE_CLIENT_CREDENTIALS,
      tokenUrl: 'https://idp.partner.example/token',
      clientId: 'bank',
      secret: 'db/payments#password',
    });
    expect((await failure(new McpCredentials(s).bearer(NAME, cc, () => 'c'))).code).toBe(Code.FAILED_PRECONDITION);
    expect(asked).toEqual([]);
  });

  test('no mode is refused', async () => {
    const { sources: s } = sources();
    const err = await failure(new McpCredentials(s).bearer(NAME, mcp({}), () => 'caller'));
    expect(err.code).toBe(Code.FAILED_PRECONDITION);
  });
});

describe('McpCredentials: client credentials at another authorization server', () => {
  let server: Server;
  let caPem: string;
  let tokenUrl: string;
  const forms: URLSearchParams[] = [];
  let answer: { status: number; body: Record<string, unknown> } = {
    status: 200,
    body: { access_token: 'partner-token-1', token_type: 'Bearer', expires_in: 3600 },
  };

  beforeAll(async () => {
    const ca = await createCa('idp.partner.example', 1);
    caPem = ca.certPem;
    const pair = await issueWorkloadCert(ca, { spiffeId: 'spiffe://idp.partner.example/idp', commonName: 'idp' });
    server = createServer({ cert: pair.cert, key: pair.key }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        forms.push(new URLSearchParams(Buffer.concat(chunks).toString()));
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    tokenUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}/oauth2/token`;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const entry = (resource = '') =>
    mcp(
      {
        mode: McpAuthMode.MCP_AUTH_MODE_CLIENT_CREDENTIALS,
        tokenUrl,
        clientId: 'agentmesh-bank',
        secret: 'mcp/partners/rates-client',
        resource,
        scopes: ['rates.read', 'rates.list'],
      },
      caPem,
    );

  test('posts client_id, client_secret, resource (default: the server URL) and scope; caches the token', async () => {
    const { sources: s, asked } = sources({ 'mcp/partners/rates-client': { client_secret: 's3cret' } });
    const creds = new McpCredentials(s);
    expect(await creds.bearer(NAME, entry(), () => 'caller-token')).toBe('partner-token-1');
    expect(await creds.bearer(NAME, entry(), () => 'caller-token')).toBe('partner-token-1');
    expect(forms).toHaveLength(1);
    const form = forms[0]!;
    expect(Object.fromEntries(form)).toEqual({
      grant_type: 'client_credentials',
      client_id: 'agentmesh-bank',
      client_secret: 's3cret',
      resource: URL_,
      scope: 'rates.read rates.list',
    });
    // Neither the caller's token nor the mesh's credentials are involved.
    expect(asked).toEqual(['secret mcp/partners/rates-client']);
    // Another resource is another token.
    await creds.bearer(NAME, entry('urn:partner:rates'), () => undefined);
    expect(forms[1]!.get('resource')).toBe('urn:partner:rates');
  });

  test("a token endpoint with a certificate of the mesh's trust domain is refused before the secret is sent", async () => {
    const { sources: s } = sources({ 'mcp/partners/rates-client': { client_secret: 's3cret' } });
    const before = forms.length;
    const err = await failure(
      new McpCredentials({ ...s, trustDomain: 'idp.partner.example' }).bearer(NAME, entry('urn:mesh'), () => undefined),
    );
    expect(err.code).toBe(Code.FAILED_PRECONDITION);
    expect(err.message).toContain('mesh workload');
    expect(forms.length).toBe(before);
  });

  test('a refusal is UNAUTHENTICATED naming the OAuth error, never the secret', async () => {
    answer = { status: 401, body: { error: 'invalid_client' } };
    const { sources: s } = sources({ 'mcp/partners/rates-client': { client_secret: 's3cret' } });
    const err = await failure(new McpCredentials(s).bearer(NAME, entry('urn:other'), () => undefined));
    expect(err.code).toBe(Code.UNAUTHENTICATED);
    expect(err.message).toContain('invalid_client');
    expect(err.message).not.toContain('s3cret');
  });

  test('an endpoint answering 5xx is UNAVAILABLE (retried by the executor)', async () => {
    answer = { status: 503, body: {} };
    const { sources: s } = sources({ 'mcp/partners/rates-client': { client_secret: 's3cret' } });
    const err = await failure(new McpCredentials(s).bearer(NAME, entry('urn:third'), () => undefined));
    expect(err.code).toBe(Code.UNAVAILABLE);
  });
});
