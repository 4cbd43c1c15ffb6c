// The token client reuses an exchanged token (RFC 8693) for the same caller token, audience and
// scopes, never across callers, and not past the earlier expiry of the two tokens. A plain HTTP
// token endpoint counts the exchanges (the real server's answers are covered by token-client.test.ts).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TokenClient } from '../mesh/security/token-client.js';

/** An unsigned JWT-shaped token with the claims given (the client only reads its expiry). */
const jwt = (claims: Record<string, unknown>) =>
  ['{"alg":"none"}', JSON.stringify(claims)].map((p) => Buffer.from(p).toString('base64url')).join('.') + '.';

describe('token exchange cache', () => {
  let server: Server;
  let url: string;
  const exchanges: URLSearchParams[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        exchanges.push(form);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ access_token: `exchanged-${exchanges.length}`, expires_in: 300 }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => (exchanges.length = 0));

  const client = () =>
    new TokenClient({ tokenUrl: url, clientId: 'test/agent', auth: { method: 'client_secret_basic', secret: 's' } });
  const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

  test('the same caller token, audience and scopes are exchanged once; concurrent callers share the request', async () => {
    const tokens = client();
    const alice = jwt({ sub: 'alice', exp: inAnHour() });
    const [a, b] = await Promise.all([
      tokens.exchange(alice, 'lending/credit-risk', ['task.write']),
      tokens.exchange(alice, 'lending/credit-risk', ['task.write']),
    ]);
    expect(await tokens.exchange(alice, 'lending/credit-risk', ['task.write'])).toBe(a);
    expect(b).toBe(a);
    expect(exchanges).toHaveLength(1);
    expect(exchanges[0]!.get('subject_token')).toBe(alice);
  });

  test('another caller, audience or scope set gets its own exchange', async () => {
    const tokens = client();
    const exp = inAnHour();
    const alice = jwt({ sub: 'alice', exp });
    const bob = jwt({ sub: 'bob', exp });
    const first = await tokens.exchange(alice, 'lending/credit-risk');
    const forBob = await tokens.exchange(bob, 'lending/credit-risk');
    const otherAudience = await tokens.exchange(alice, 'lending/compliance');
    const otherScopes = await tokens.exchange(alice, 'lending/credit-risk', ['task.read']);
    expect(new Set([first, forBob, otherAudience, otherScopes]).size).toBe(4);
    expect(exchanges.map((f) => [f.get('subject_token'), f.get('audience'), f.get('scope')])).toEqual([
      [alice, 'lending/credit-risk', null],
      [bob, 'lending/credit-risk', null],
      [alice, 'lending/compliance', null],
      [alice, 'lending/credit-risk', 'task.read'],
    ]);
    // A new token of the same person is another subject token: exchanged again.
    await tokens.exchange(jwt({ sub: 'alice', exp: exp + 1 }), 'lending/credit-risk');
    expect(exchanges).toHaveLength(5);
  });

  test('a caller token close to its expiry, or without a readable one, is exchanged every time', async () => {
    const tokens = client();
    // Expires within the refresh margin (30 s): the exchanged token must not outlive it.
    const soon = jwt({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 20 });
    await tokens.exchange(soon, 'lending/credit-risk');
    await tokens.exchange(soon, 'lending/credit-risk');
    const opaque = 'an-opaque-reference-token';
    await tokens.exchange(opaque, 'lending/credit-risk');
    await tokens.exchange(opaque, 'lending/credit-risk');
    expect(exchanges).toHaveLength(4);
  });
});
