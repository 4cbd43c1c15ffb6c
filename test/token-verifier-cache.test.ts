// The verifier remembers tokens whose signature it checked (clients send the same token with
// every call): what it remembers must never outlive what the token allows.
import { createPrivateKey } from 'node:crypto';
import { SignJWT } from 'jose';
import { TokenError, TokenVerifier } from '../mesh/security/token-verifier.js';
import { createSecureFixture, type SecureFixture } from './helpers/secure-mesh.js';

describe('verified tokens are remembered, within their lifetime only', () => {
  let fx: SecureFixture;
  let verifier: TokenVerifier;
  const now = () => Math.floor(Date.now() / 1000);
  const sign = (exp: number) =>
    new SignJWT({ scope: 'task.read', client_id: 'test/caller' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
      .setIssuer(fx.auth.issuer)
      .setSubject('test/caller')
      .setAudience('test/agent')
      .setIssuedAt()
      .setExpirationTime(exp)
      .sign(createPrivateKey(fx.signingKeyPem));

  beforeAll(async () => {
    fx = await createSecureFixture();
    verifier = new TokenVerifier({
      issuer: fx.auth.issuer,
      audience: 'test/agent',
      jwksUrl: fx.auth.jwksUrl,
      ca: fx.pki.ca.certPem,
      clockToleranceSec: 0,
    });
  });
  afterAll(() => fx.close());

  test('a token presented again gives the same claims; one that expired since is refused', async () => {
    // The keys fetched first (a long-lived token), so that the short one is checked well within its
    // lifetime however slow that fetch is; 5 s of it leave room for a loaded machine.
    await verifier.verify(await sign(now() + 300));
    const token = await sign(now() + 5);
    const first = await verifier.verify(token);
    expect(await verifier.verify(token)).toEqual(first);
    await new Promise((r) => setTimeout(r, (first.exp! + 1) * 1000 - Date.now()));
    await expect(verifier.verify(token)).rejects.toEqual(expect.objectContaining({ reason: 'expired' }));
    await expect(verifier.verify(token)).rejects.toBeInstanceOf(TokenError);
  }, 60_000);

  test('a token differing from an accepted one in any byte is checked on its own, and refused when forged', async () => {
    const token = await sign(now() + 300);
    await verifier.verify(token);
    const [head, body, signature] = token.split('.') as [string, string, string];
    const flipped = `${head}.${body}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'AB' : 'AA'}`;
    await expect(verifier.verify(flipped)).rejects.toEqual(expect.objectContaining({ reason: 'bad_signature' }));
    const otherClaims = `${head}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), scope: 'admin' })).toString('base64url')}.${signature}`;
    await expect(verifier.verify(otherClaims)).rejects.toEqual(expect.objectContaining({ reason: 'bad_signature' }));
  });

  test('the cache is bounded: with room for one, the other token is verified again, still accepted', async () => {
    const small = new TokenVerifier({
      issuer: fx.auth.issuer,
      audience: 'test/agent',
      jwksUrl: fx.auth.jwksUrl,
      ca: fx.pki.ca.certPem,
      cacheSize: 1,
    });
    const [a, b] = [await sign(now() + 300), await sign(now() + 301)];
    for (const t of [a, b, a, b]) expect((await small.verify(t)).sub).toBe('test/caller');
  });
});
