// MeshServer.dispatch checks the token and the policy itself, whatever the binding in front of
// it decided: called directly, with no HTTP gate, a call without a token or from a caller the
// policy refuses never reaches the handler, and the identity the binding established is used.
import { createPrivateKey } from 'node:crypto';
import { Metadata, ServerCredentials } from '@grpc/grpc-js';
import { SignJWT } from 'jose';
import pino from 'pino';
import { ToolServiceService } from '../gen/agentmesh/v1/tool_service.js';
import { Code, createServer, MeshError, type MeshServer, type PeerIdentity } from '../mesh/index.js';
import { parsePolicy, securityInterceptor, TokenVerifier, Transport } from '../mesh/security/index.js';
import { createSecureFixture, type SecureFixture } from './helpers/secure-mesh.js';
import { TRUST_DOMAIN } from './helpers/pki.js';

const SERVICE = 'test/tools';
const LIST_TOOLS = '/agentmesh.v1.ToolService/ListTools';
const ALLOWED = `spiffe://${TRUST_DOMAIN}/ns/lending/sa/credit-risk`;
const STRANGER = `spiffe://${TRUST_DOMAIN}/ns/other/sa/stranger`;

describe('dispatch() authenticates and authorizes on its own', () => {
  let fx: SecureFixture;
  let server: MeshServer;
  let reached: { subject?: string; peer?: string }[];

  const sign = () =>
    new SignJWT({ scope: 'tools.invoke', client_id: 'test/caller' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
      .setIssuer(fx.auth.issuer)
      .setSubject('test/caller')
      .setAudience(SERVICE)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + 300)
      .sign(createPrivateKey(fx.signingKeyPem));

  const dispatch = (identity: PeerIdentity, token?: string) => {
    const metadata = new Metadata();
    if (token) metadata.set('authorization', `Bearer ${token}`);
    return server.dispatch(LIST_TOOLS, {}, { metadata, peer: '127.0.0.1:40000', identity });
  };

  beforeAll(async () => {
    fx = await createSecureFixture();
    const log = pino({ level: 'silent' });
    const verifier = new TokenVerifier({
      issuer: fx.auth.issuer,
      audience: SERVICE,
      jwksUrl: fx.auth.jwksUrl,
      ca: fx.pki.ca.certPem,
    });
    const policy = parsePolicy(
      {
        service: SERVICE,
        rules: [{ methods: ['agentmesh.v1.ToolService/*'], callers: [ALLOWED], scopes: ['tools.invoke'] }],
      },
      TRUST_DOMAIN,
    );
    reached = [];
    // The gRPC transport would establish no identity (insecure): only the one dispatch() passes can match the rule.
    const transport = new Transport({ mode: 'insecure', trustDomain: TRUST_DOMAIN });
    server = createServer({ logger: log })
      .use(securityInterceptor({ transport, verifier, policy, log }))
      .add(ToolServiceService, {
        async listTools(_req, ctx) {
          reached.push({ subject: ctx.principal?.subject, peer: ctx.principal?.peer.spiffeId });
          return { card: undefined };
        },
      });
    await server.listen('127.0.0.1:0', ServerCredentials.createInsecure());
  });
  afterAll(async () => {
    await server?.shutdown();
    await fx?.close();
  });

  test('no token: UNAUTHENTICATED, the handler never reached', async () => {
    await expect(dispatch({ spiffeId: ALLOWED, source: 'mtls' })).rejects.toMatchObject({
      code: Code.UNAUTHENTICATED,
      message: 'missing bearer access token',
    });
    await expect(dispatch({ spiffeId: ALLOWED, source: 'mtls' }, 'not-a-jwt')).rejects.toMatchObject({
      code: Code.UNAUTHENTICATED,
    });
    expect(reached).toEqual([]);
  });

  test('a valid token from an identity the policy does not name: PERMISSION_DENIED, the handler never reached', async () => {
    const token = await sign();
    await expect(dispatch({ spiffeId: STRANGER, source: 'mtls' }, token)).rejects.toMatchObject({
      code: Code.PERMISSION_DENIED,
      message: expect.stringContaining(`caller ${STRANGER} is not allowed`),
    });
    await expect(dispatch({ spiffeId: undefined, source: 'none' }, token)).rejects.toMatchObject({
      code: Code.PERMISSION_DENIED,
    });
    expect(reached).toEqual([]);
  });

  test('the token and the identity the binding established admit the call: the handler sees both', async () => {
    await expect(dispatch({ spiffeId: ALLOWED, source: 'mtls' }, await sign())).resolves.toEqual({ card: undefined });
    expect(reached).toEqual([{ subject: 'test/caller', peer: ALLOWED }]);
  });

  test('a call the binding refused (refusedWith) never reaches the handler, even when the chain would admit it', async () => {
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${await sign()}`);
    const refusedWith = new MeshError(Code.PERMISSION_DENIED, 'refused by the binding');
    const before = reached.length;
    await expect(
      server.dispatch(
        LIST_TOOLS,
        {},
        {
          metadata,
          peer: '127.0.0.1:40000',
          identity: { spiffeId: ALLOWED, source: 'mtls' },
          refusedWith,
        },
      ),
    ).rejects.toMatchObject({ code: Code.PERMISSION_DENIED, message: 'refused by the binding' });
    expect(reached).toHaveLength(before);
  });
});
