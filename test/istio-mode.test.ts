import { credentials, Metadata } from '@grpc/grpc-js';
import { AgentServiceService } from '../gen/agentmesh/v1/agent_service.js';
import { Task } from '../gen/agentmesh/v1/task.js';
import { createClient } from '../mesh/client/index.js';
import { parsePolicy } from '../mesh/security/policy.js';
import type { Principal } from '../mesh/security/principal.js';
import { securityInterceptor } from '../mesh/security/security-interceptor.js';
import { TokenVerifier } from '../mesh/security/token-verifier.js';
import { Transport } from '../mesh/security/transport.js';
import { Code, createServer, type MeshServer } from '../mesh/server/index.js';
import { captureLogger } from './helpers/log-capture.js';
import { TRUST_DOMAIN } from './helpers/pki.js';
import { AGENT_POLICY, createSecureFixture, idOf, type SecureFixture } from './helpers/secure-mesh.js';

/** What Envoy sends for a connection it terminated from `peer`. */
const xfcc = (peer: string) => `By=${idOf('test', 'agent')};Hash=0f3a;Subject="";URI=${peer}`;

describe('istio transport mode: identity from the sidecar header', () => {
  let fx: SecureFixture;
  const seen: Principal[] = [];

  beforeAll(async () => {
    fx = await createSecureFixture();
  });
  afterAll(async () => fx.close());

  async function start(trustedProxies?: string[]): Promise<{ server: MeshServer; address: string }> {
    const log = captureLogger('istio').log;
    const transport = new Transport({ mode: 'istio', trustDomain: TRUST_DOMAIN, trustedProxies, selfId: idOf('test', 'agent'), log });
    const verifier = new TokenVerifier({ issuer: fx.auth.issuer, audience: 'test/agent', jwksUrl: fx.auth.jwksUrl, ca: fx.pki.ca.certPem });
    const server = createServer({ logger: log })
      .use(securityInterceptor({ transport, verifier, policy: parsePolicy(AGENT_POLICY, TRUST_DOMAIN), log }))
      .add(AgentServiceService, {
        async getTask({ taskId }, ctx) {
          seen.push(ctx.principal!);
          return { task: Task.fromPartial({ id: taskId }) };
        },
      });
    const port = await server.listen('127.0.0.1:0', transport.serverCredentials());
    return { server, address: `127.0.0.1:${port}` };
  }

  async function call(address: string, header: string | undefined) {
    // Plaintext, as the local sidecar talks to the app.
    const client = createClient(AgentServiceService, address, { credentials: credentials.createInsecure() });
    const metadata = new Metadata();
    if (header) metadata.set('x-forwarded-client-cert', header);
    metadata.set('authorization', `Bearer ${await fx.tokenClient('test/caller').getToken('test/agent', ['task.read'])}`);
    try {
      return await client.getTask({ taskId: 'i', historyLength: 0 }, { metadata });
    } finally {
      client.close();
    }
  }

  beforeEach(() => {
    seen.length = 0;
  });

  test('the caller identity comes from x-forwarded-client-cert and is authorized as in mtls mode', async () => {
    const { server, address } = await start();
    try {
      await call(address, xfcc(idOf('test', 'caller')));
      expect(seen[0]?.peer).toEqual({ spiffeId: idOf('test', 'caller'), source: 'xfcc' });
      await expect(call(address, xfcc(idOf('other', 'intruder')))).rejects.toMatchObject({ code: Code.PERMISSION_DENIED });
      await expect(call(address, undefined)).rejects.toMatchObject({ code: Code.UNAUTHENTICATED });
      await expect(call(address, xfcc('spiffe://elsewhere.example/ns/test/sa/caller'))).rejects.toMatchObject({
        code: Code.UNAUTHENTICATED,
        message: expect.stringContaining('trust domain'),
      });
      expect(seen).toHaveLength(1);
    } finally {
      await server.shutdown({ graceMs: 200 });
    }
  });

  test('the header is refused when it does not come from the configured sidecar address', async () => {
    const { server, address } = await start(['127.0.0.6']);
    try {
      await expect(call(address, xfcc(idOf('test', 'caller')))).rejects.toMatchObject({
        code: Code.UNAUTHENTICATED,
        message: expect.stringContaining('not the local sidecar'),
      });
      expect(seen).toHaveLength(0);
    } finally {
      await server.shutdown({ graceMs: 200 });
    }
  });
});
