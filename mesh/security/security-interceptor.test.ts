import { EventEmitter } from 'node:events';
import { Metadata } from '@grpc/grpc-js';
import type { JWTPayload } from 'jose';
import pino from 'pino';
import { Code, createCallContext, isMeshError, type PeerIdentity, type Principal } from '../core/index.js';
import { PRESETS, mapClaims } from './claim-mapping.js';
import { parsePolicy } from './policy.js';
import { securityInterceptor } from './security-interceptor.js';
import type { TokenCheck } from './token-verifier.js';
import type { Transport } from './transport.js';

// The interceptor works out a token's principal and the policy's decisions once and reuses them for
// the token's later calls (the verifier hands back the same claims object): every call must still
// get the decision of its own method and caller, and a principal of its own.

const log = pino({ level: 'silent' });
const policy = parsePolicy(
  {
    service: 'lending/credit-risk',
    rules: [
      {
        methods: ['agentmesh.v1.AgentService/GetTask'],
        callers: ['spiffe://td/ns/lending/sa/*'],
        scopes: ['task.read'],
      },
      {
        methods: ['agentmesh.v1.AgentService/SendTask'],
        callers: ['spiffe://td/ns/lending/sa/*'],
        scopes: ['task.write'],
      },
    ],
  },
  'td',
);
const claims: JWTPayload = Object.freeze({
  sub: 'lending/orchestrator',
  client_id: 'lending/orchestrator',
  scope: 'task.read',
  exp: 2e9,
});
const verifier: TokenCheck = {
  verify: async (token) => {
    if (token !== 'the-token') throw new Error('unexpected token');
    return claims;
  },
  principalOf: (c) => {
    const mapped = mapClaims(c, PRESETS.agentmesh.claims);
    return { ...mapped, subject: mapped.subject! };
  },
};

function call(path: string, spiffeId: string) {
  const metadata = new Metadata();
  metadata.set('authorization', 'Bearer the-token');
  const surface = Object.assign(new EventEmitter(), {
    metadata,
    getPeer: () => '127.0.0.1:5000',
    getDeadline: () => Infinity,
  });
  const ctx = createCallContext(
    surface as never,
    { service: 'agentmesh.v1.AgentService', method: path.slice(path.lastIndexOf('/') + 1), path, kind: 'unary' },
    log,
  );
  ctx.identity = { spiffeId, source: 'mtls' } satisfies PeerIdentity;
  return ctx;
}

async function outcome(intercept: ReturnType<typeof securityInterceptor>, path: string, spiffeId: string) {
  const ctx = call(path, spiffeId);
  let principal: Principal | undefined;
  try {
    await intercept(ctx, async () => void (principal = ctx.principal));
    return { code: Code.OK, principal };
  } catch (err) {
    if (!isMeshError(err)) throw err;
    return { code: err.code, reason: err.message };
  }
}

describe('security interceptor, one token over many calls', () => {
  const intercept = securityInterceptor({ transport: {} as Transport, verifier, policy, log });
  const orchestrator = 'spiffe://td/ns/lending/sa/orchestrator';

  test('each call gets the decision of its own method and caller', async () => {
    for (let round = 0; round < 3; round++) {
      expect((await outcome(intercept, '/agentmesh.v1.AgentService/GetTask', orchestrator)).code).toBe(Code.OK);
      const send = await outcome(intercept, '/agentmesh.v1.AgentService/SendTask', orchestrator);
      expect(send).toMatchObject({
        code: Code.PERMISSION_DENIED,
        reason: expect.stringContaining('lacks scope task.write'),
      });
      const stranger = await outcome(intercept, '/agentmesh.v1.AgentService/GetTask', 'spiffe://td/ns/payments/sa/x');
      expect(stranger).toMatchObject({
        code: Code.PERMISSION_DENIED,
        reason: expect.stringContaining('is not allowed'),
      });
    }
  });

  test('each call gets a principal of its own: a handler changing its own leaves the next call alone', async () => {
    const first = (await outcome(intercept, '/agentmesh.v1.AgentService/GetTask', orchestrator)).principal!;
    first.scopes.push('task.write');
    first.actors.push('someone');
    const second = (await outcome(intercept, '/agentmesh.v1.AgentService/GetTask', orchestrator)).principal!;
    expect(second).not.toBe(first);
    expect(second.scopes).toEqual(['task.read']);
    expect(second.actors).toEqual([]);
    expect((await outcome(intercept, '/agentmesh.v1.AgentService/SendTask', orchestrator)).code).toBe(
      Code.PERMISSION_DENIED,
    );
  });
});
