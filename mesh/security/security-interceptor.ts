import type { Logger } from 'pino';
import type { Interceptor } from '../core/index.js';
import { Code, MeshError } from '../core/index.js';
import { redactDeep } from '../telemetry/index.js';
import type { JWTPayload } from 'jose';
import type { MappedClaims } from './claim-mapping.js';
import { authorize, type Decision, type ServicePolicy } from './policy.js';
import type { Principal } from '../core/index.js';
import { actorsOf, TokenError, type TokenCheck, type TokenFailure } from './token-verifier.js';
import type { Transport } from './transport.js';

/** What the security interceptor needs. */
export interface SecurityOptions {
  transport: Transport;
  /** The issuer(s) this service trusts. */
  verifier: TokenCheck;
  policy: ServicePolicy;
  log: Logger;
  /** Told about every refused token, by reason (metrics hook). */
  onTokenFailure?: (reason: TokenFailure) => void;
  /** Told about every authorization decision (audit hook). */
  onDecision?: (decision: { allowed: boolean; reason: string; method: string; principal?: Principal }) => void;
}

/** The bearer token of a call, or undefined when the authorization metadata is absent or not a bearer. */
export function bearerToken(values: unknown[]): string | undefined {
  if (values.length !== 1) return undefined;
  const m = /^Bearer ([^\s]+)$/i.exec(String(values[0]));
  return m?.[1];
}

/** What a verified token's claims decide, worked out once for all the calls that present the token. */
interface Settled {
  mapped: MappedClaims & { subject: string };
  actors: string[];
  /** By "<path> <caller SPIFFE ID>": the policy's decision and the redacted log bindings of an allowed call. */
  decisions: Map<string, { decision: Decision; bindings: Record<string, unknown> }>;
}

/** Distinct (method, caller) pairs remembered per token: a token is one client's, so a few suffice. */
const DECISIONS_PER_TOKEN = 64;

/**
 * Authenticates and authorizes every call before its handler runs, in this
 * order: workload identity from the transport, bearer access token, then the
 * service policy (deny by default). Sets ctx.principal on success.
 * UNAUTHENTICATED for identity/token failures, PERMISSION_DENIED for policy.
 */
export function securityInterceptor(options: SecurityOptions): Interceptor {
  const { transport, verifier, policy, log } = options;
  // The verifier hands back the same (frozen) claims object for a token it has verified before, so
  // the claim mapping, the actors and the policy's decision (pure functions of the claims, the
  // method and the caller's identity) are computed once per token, not per call.
  const settled = new WeakMap<JWTPayload, Settled>();
  return async (ctx, next) => {
    const method = ctx.path.slice(1);
    // Another binding (MCP over HTTPS) establishes the identity on its own transport and sets it first.
    const peer = ctx.identity ?? transport.peerIdentity(ctx.call);
    ctx.identity = peer;
    const token = bearerToken(ctx.metadata.get('authorization'));
    if (!token) {
      options.onTokenFailure?.('missing');
      throw new MeshError(Code.UNAUTHENTICATED, 'missing bearer access token');
    }
    let claims: JWTPayload;
    let known: Settled | undefined;
    try {
      claims = await verifier.verify(token);
      known = settled.get(claims);
      if (!known) {
        known = { mapped: verifier.principalOf(claims), actors: actorsOf(claims), decisions: new Map() };
        settled.set(claims, known);
      }
    } catch (err) {
      const failure = err instanceof TokenError ? err : new TokenError('malformed', 'token malformed', { cause: err });
      options.onTokenFailure?.(failure.reason);
      log.warn({ reason: failure.reason, peer: peer.spiffeId, method, err: failure.cause }, 'token refused');
      const code = failure.reason === 'jwks_unavailable' ? Code.UNAVAILABLE : Code.UNAUTHENTICATED;
      throw new MeshError(code, failure.message, { cause: failure });
    }
    const { mapped } = known;
    // Arrays copied: a handler may change its principal's, never another call's.
    const principal: Principal = {
      peer,
      subject: mapped.subject,
      clientId: mapped.clientId,
      scopes: [...mapped.scopes],
      roles: [...mapped.roles],
      workload: mapped.workload,
      actors: [...known.actors],
      token,
      claims,
    };
    const key = `${ctx.path} ${peer.spiffeId ?? ''}`;
    let settledCall = known.decisions.get(key);
    if (!settledCall) {
      const decision = authorize(policy, ctx.path, { spiffeId: peer.spiffeId, scopes: mapped.scopes });
      const bindings = redactDeep({ subject: mapped.subject, peer: peer.spiffeId }) as Record<string, unknown>;
      settledCall = { decision, bindings };
      if (known.decisions.size < DECISIONS_PER_TOKEN) known.decisions.set(key, settledCall);
    }
    const { decision } = settledCall;
    options.onDecision?.({ ...decision, method, principal });
    if (!decision.allowed || log.isLevelEnabled('debug'))
      log[decision.allowed ? 'debug' : 'warn'](
        { allowed: decision.allowed, reason: decision.reason, peer: peer.spiffeId, subject: principal.subject, method },
        'authorization decision',
      );
    if (!decision.allowed) throw new MeshError(Code.PERMISSION_DENIED, decision.reason);
    ctx.principal = principal;
    ctx.bindLog(settledCall.bindings);
    await next();
  };
}
