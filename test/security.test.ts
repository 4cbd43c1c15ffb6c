import { createPrivateKey, createPublicKey, createHmac } from 'node:crypto';
import { Metadata } from '@grpc/grpc-js';
import { SignJWT } from 'jose';
import { Task } from '../gen/agentmesh/v1/task.js';
import { Code, type CallContext } from '../mesh/index.js';
import type { Principal } from '../mesh/core/principal.js';
import { TokenClient } from '../mesh/security/token-client.js';
import { createCa } from '../mesh/security/dev-ca.js';
import {
  createSecureFixture,
  idOf,
  secureClient,
  startSecureAgent,
  type SecureFixture,
} from './helpers/secure-mesh.js';

type Agent = Awaited<ReturnType<typeof startSecureAgent>>;

describe('zero-trust calls between workloads', () => {
  let fx: SecureFixture;
  let agent: Agent;
  const seen: Principal[] = [];
  const agentId = idOf('test', 'agent');

  beforeAll(async () => {
    fx = await createSecureFixture();
    agent = await startSecureAgent(fx, 'test/agent', {
      async getTask({ taskId }, ctx: CallContext) {
        seen.push(ctx.principal!);
        return { task: Task.fromPartial({ id: taskId }) };
      },
      async sendTask(_req, ctx) {
        seen.push(ctx.principal!);
        return { task: Task.fromPartial({ id: 'new' }) };
      },
    });
  });

  afterAll(async () => {
    await agent.server.shutdown({ graceMs: 500 });
    await fx.close();
  });

  beforeEach(() => {
    seen.length = 0;
  });

  /** Calls GetTask as ns/sa with a token source; returns the outcome. */
  async function callAs(
    transportOf: Promise<import('../mesh/security/transport.js').Transport>,
    token: () => Promise<string | undefined>,
    metadata?: Metadata,
  ) {
    const client = secureClient(await transportOf, agent.address, agentId, token);
    try {
      return await client.getTask({ taskId: 't1', historyLength: 0 }, { metadata });
    } finally {
      client.close();
    }
  }

  const callerToken = () => fx.tokenClient('test/caller').getToken('test/agent', ['task.read']);

  test('happy path: the handler sees the caller SPIFFE ID, subject and scopes', async () => {
    const answer = await callAs(fx.transportFor('test', 'caller'), callerToken);
    expect(answer.task?.id).toBe('t1');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      peer: { spiffeId: idOf('test', 'caller'), source: 'mtls' },
      subject: 'test/caller',
      clientId: 'test/caller',
      scopes: ['task.read'],
      actors: [],
    });
  });

  test('private-key JWT client authentication gets a working token', async () => {
    const client = new TokenClient({
      tokenUrl: fx.auth.tokenUrl,
      clientId: 'test/keyed',
      auth: { method: 'private_key_jwt', privateKeyPem: fx.keyedClientKeyPem },
      ca: fx.pki.ca.certPem,
    });
    await callAs(fx.transportFor('test', 'keyed'), () => client.getToken('test/agent', ['task.read']));
    expect(seen[0]?.subject).toBe('test/keyed');
  });

  describe('transport refusals never reach the handler', () => {
    test('no client certificate', async () => {
      const { credentials } = await import('@grpc/grpc-js');
      const { createClient } = await import('../mesh/index.js');
      const { AgentServiceService } = await import('../gen/agentmesh/v1/agent_service.js');
      const client = createClient(AgentServiceService, agent.address, {
        credentials: credentials.createSsl(Buffer.from(fx.pki.ca.certPem), null, null, {
          checkServerIdentity: () => undefined,
        }),
        defaultDeadlineMs: 3_000,
      });
      await expect(client.getTask({ taskId: 't', historyLength: 0 })).rejects.toMatchObject({ code: Code.UNAVAILABLE });
      client.close();
      expect(seen).toHaveLength(0);
    });

    test('a certificate from another CA', async () => {
      const otherCa = await createCa('agentmesh.test', 1);
      const files = await fx.pki.issue('test', 'caller', { ca: otherCa, name: 'foreign' });
      // The foreign client trusts the real CA for the server, but presents a foreign certificate.
      files.caFile = fx.pki.caFile;
      await expect(callAs(fx.transportFor('test', 'caller', files), callerToken)).rejects.toMatchObject({
        code: Code.UNAVAILABLE,
      });
      expect(seen).toHaveLength(0);
    });

    test('an expired certificate', async () => {
      const files = await fx.pki.issue('test', 'caller', {
        name: 'expired',
        notBefore: new Date(Date.now() - 3 * 3_600_000),
        hours: 1,
      });
      await expect(callAs(fx.transportFor('test', 'caller', files), callerToken)).rejects.toMatchObject({
        code: Code.UNAVAILABLE,
      });
      expect(seen).toHaveLength(0);
    });

    test('a valid certificate whose SPIFFE ID the policy does not allow: PERMISSION_DENIED', async () => {
      const intruderToken = () => fx.tokenClient('test/caller').getToken('test/agent', ['task.read']);
      await expect(callAs(fx.transportFor('other', 'intruder'), intruderToken)).rejects.toMatchObject({
        code: Code.PERMISSION_DENIED,
        message: expect.stringContaining(idOf('other', 'intruder')),
      });
      expect(seen).toHaveLength(0);
    });

    test('a server presenting the wrong SPIFFE ID is refused by the client', async () => {
      const client = secureClient(
        await fx.transportFor('test', 'caller'),
        agent.address,
        idOf('test', 'somebody-else'),
        callerToken,
      );
      await expect(client.getTask({ taskId: 't', historyLength: 0 })).rejects.toMatchObject({ code: Code.UNAVAILABLE });
      client.close();
      expect(seen).toHaveLength(0);
    });

    test('x-forwarded-client-cert is ignored in mtls mode', async () => {
      const claim = new Metadata();
      claim.set('x-forwarded-client-cert', `By=${agentId};URI=${idOf('test', 'caller')}`);
      await expect(callAs(fx.transportFor('other', 'intruder'), callerToken, claim)).rejects.toMatchObject({
        code: Code.PERMISSION_DENIED,
      });
      const disguise = new Metadata();
      disguise.set('x-forwarded-client-cert', `By=${agentId};URI=${idOf('other', 'intruder')}`);
      await callAs(fx.transportFor('test', 'caller'), callerToken, disguise);
      expect(seen.map((p) => p.peer.spiffeId)).toEqual([idOf('test', 'caller')]);
    });
  });

  describe('token refusals: UNAUTHENTICATED before the handler', () => {
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = () => Math.floor(Date.now() / 1000);
    const claims = (over: Record<string, unknown> = {}) => ({
      iss: fx.auth.issuer,
      sub: 'test/caller',
      aud: 'test/agent',
      iat: now(),
      exp: now() + 300,
      scope: 'task.read',
      client_id: 'test/caller',
      jti: 'x',
      ...over,
    });
    const sign = (payload: Record<string, unknown>, pem = fx.signingKeyPem, kid = 'k1') =>
      new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' }).sign(createPrivateKey(pem));

    const cases: [string, () => Promise<string | undefined>, string][] = [
      ['missing', async () => undefined, 'missing bearer access token'],
      ['not a JWT', async () => 'not-a-jwt', 'token malformed'],
      [
        'alg none',
        async () => `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(claims())}.`,
        'token algorithm not allowed',
      ],
      [
        'HS256 signed with the public key',
        async () => {
          const publicPem = createPublicKey(createPrivateKey(fx.signingKeyPem)).export({ type: 'spki', format: 'pem' });
          const head = `${b64({ alg: 'HS256', kid: 'k1', typ: 'at+jwt' })}.${b64(claims())}`;
          return `${head}.${createHmac('sha256', publicPem).update(head).digest('base64url')}`;
        },
        'token algorithm not allowed',
      ],
      [
        'tampered payload',
        async () => {
          const [h, , s] = (await sign(claims())).split('.');
          return `${h}.${b64(claims({ scope: 'task.read task.write admin' }))}.${s}`;
        },
        'token signature invalid',
      ],
      [
        'unknown kid',
        async () => sign(claims(), await (await import('./helpers/secure-mesh.js')).newSigningKeyPem(), 'nobody'),
        'token signed by an unknown key',
      ],
      ['expired', async () => sign(claims({ iat: now() - 600, exp: now() - 120 })), 'token expired'],
      ['nbf in the future', async () => sign(claims({ nbf: now() + 600 })), 'token not yet valid'],
      ['wrong issuer', async () => sign(claims({ iss: 'https://evil.example' })), 'token issuer not trusted'],
      [
        'wrong audience',
        async () => fx.tokenClient('test/caller').getToken('test/agent2', ['task.read']),
        'token not issued for this service',
      ],
    ];

    test.each(cases)('%s', async (_name, token, message) => {
      const err = await callAs(fx.transportFor('test', 'caller'), token).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: Code.UNAUTHENTICATED, message: expect.stringContaining(message) });
      expect(seen).toHaveLength(0);
    });

    test('missing scope: PERMISSION_DENIED naming it', async () => {
      const client = secureClient(await fx.transportFor('test', 'caller'), agent.address, agentId, callerToken);
      const err = await client
        .sendTask({ requestId: 'r1', message: undefined, skillId: '', configuration: undefined })
        .catch((e: unknown) => e);
      client.close();
      expect(err).toMatchObject({ code: Code.PERMISSION_DENIED, message: expect.stringContaining('task.write') });
      expect(seen).toHaveLength(0);
    });

    test('a suspended client gets no token', async () => {
      await expect(fx.tokenClient('test/suspended').getToken('test/agent')).rejects.toMatchObject({
        code: Code.UNAUTHENTICATED,
        message: expect.stringContaining('unauthorized_client'),
      });
    });

    test('a client suspended after registration stops getting tokens', async () => {
      const tokens = fx.tokenClient('test/caller');
      await tokens.getToken('test/agent', ['task.read']);
      fx.clients.setLifecycle('test/caller', 'SUSPENDED');
      try {
        await expect(fx.tokenClient('test/caller').getToken('test/agent', ['task.read'])).rejects.toMatchObject({
          message: expect.stringContaining('client is suspended'),
        });
      } finally {
        fx.clients.setLifecycle('test/caller', 'ACTIVE');
      }
    });
  });

  describe('token exchange', () => {
    test('the downstream agent sees the user as subject and the agent chain in act', async () => {
      const downstreamSeen: Principal[] = [];
      const downstream = await startSecureAgent(fx, 'test/agent2', {
        async getTask({ taskId }, ctx) {
          downstreamSeen.push(ctx.principal!);
          return { task: Task.fromPartial({ id: taskId }) };
        },
      });
      const agentTokens = fx.tokenClient('test/agent');
      let middleExp = 0;
      const middle = await startSecureAgent(
        fx,
        'test/agent',
        {
          async getTask(req, ctx) {
            middleExp = Number(ctx.principal!.claims.exp);
            const client = secureClient(
              await fx.transportFor('test', 'agent'),
              downstream.address,
              idOf('test', 'agent2'),
              () => agentTokens.exchange(ctx.principal!.token, 'test/agent2', ['task.read']),
            );
            try {
              return await client.getTask(req, { parent: ctx });
            } finally {
              client.close();
            }
          },
        },
        undefined,
      );
      try {
        const userToken = () => fx.tokenClient('test/console').tokenForUser('alice', 'test/agent', ['task.read']);
        const client = secureClient(await fx.transportFor('test', 'console'), middle.address, agentId, userToken);
        await client.getTask({ taskId: 'chain', historyLength: 0 });
        client.close();
        expect(downstreamSeen).toHaveLength(1);
        expect(downstreamSeen[0]).toMatchObject({
          subject: 'alice',
          actors: ['test/agent', 'test/console'],
          clientId: 'test/agent',
        });
        expect(downstreamSeen[0]!.claims.act).toEqual({ sub: 'test/agent', act: { sub: 'test/console' } });
        // Delegation never outlives the user's token it was exchanged from.
        expect(Number(downstreamSeen[0]!.claims.exp)).toBeLessThanOrEqual(middleExp);
      } finally {
        await middle.server.shutdown({ graceMs: 200 });
        await downstream.server.shutdown({ graceMs: 200 });
      }
    });

    test('an agent cannot exchange a token whose audience is not itself', async () => {
      const forAgent2 = await fx.tokenClient('test/console').tokenForUser('alice', 'test/agent2', ['task.read']);
      await expect(fx.tokenClient('test/agent').exchange(forAgent2, 'test/agent2')).rejects.toMatchObject({
        message: expect.stringContaining('subject_token was not issued to the exchanging client'),
      });
    });

    test('a client without the exchange privilege cannot exchange', async () => {
      const forCaller = await fx.tokenClient('test/console').tokenForUser('alice', 'test/agent', ['task.read']);
      await expect(fx.tokenClient('test/caller').exchange(forCaller, 'test/agent2')).rejects.toMatchObject({
        message: expect.stringContaining('unauthorized_client'),
      });
    });
  });
});
