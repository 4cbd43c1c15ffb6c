import type { IncomingMessage } from 'node:http';
import { TLSSocket } from 'node:tls';
import { Metadata } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { PeerIdentity } from '../../core/index.js';
import {
  authorize,
  bearerToken,
  parseSpiffeId,
  spiffeUrisOf,
  TokenError,
  type ServicePolicy,
  type TokenCheck,
  type TokenFailure,
  type Transport,
} from '../../security/index.js';
import type { Refusal } from './mcp-challenge.js';

const NO_IDENTITY: PeerIdentity = { spiffeId: undefined, source: 'none' };

/** The transport peer of a request as grpc-js would write it ("127.0.0.1:5000", "[::1]:5000"). */
export function peerOf(req: IncomingMessage): string {
  const host = req.socket.remoteAddress ?? 'unknown';
  return `${host.includes(':') ? `[${host}]` : host}:${req.socket.remotePort ?? 0}`;
}

/**
 * The caller's workload identity as this port's transport established it. mtls:
 * the client certificate the TLS layer verified (its trust domain was checked
 * when the connection opened), none when `optional` let a certificate-less
 * caller in. istio: x-forwarded-client-cert, read exactly as the gRPC port's
 * transport reads it (only from the local sidecar); absent in `optional` mode:
 * none. insecure: none. Throws UNAUTHENTICATED as the transport does.
 */
export function identityOf(req: IncomingMessage, transport: Transport, optional: boolean): PeerIdentity {
  switch (transport.options.mode) {
    case 'mtls': {
      const socket = req.socket;
      if (!(socket instanceof TLSSocket) || !socket.authorized) return NO_IDENTITY;
      const ids = spiffeUrisOf(socket.getPeerCertificate());
      const id = ids.length === 1 ? parseSpiffeId(ids[0]!) : undefined;
      return id ? { spiffeId: id.uri, source: 'mtls' } : NO_IDENTITY;
    }
    case 'istio': {
      const xfcc = req.headers['x-forwarded-client-cert'];
      if (xfcc === undefined && optional) return NO_IDENTITY;
      const metadata = new Metadata();
      for (const v of [xfcc ?? []].flat()) metadata.add('x-forwarded-client-cert', v);
      return transport.peerIdentity({ metadata, getPeer: () => peerOf(req), getAuthContext: () => ({}) });
    }
    case 'insecure':
      return NO_IDENTITY;
  }
}

/** What the gate checks tokens and decisions with: the kit's verifier and policy, the same as the gRPC port's. */
export interface GateOptions {
  verifier: TokenCheck;
  policy: ServicePolicy;
  log: Logger;
  /** Told about every refused token, by reason (the kit's token failure metric). */
  onTokenFailure?: (reason: TokenFailure) => void;
}

/**
 * Decides, before the MCP layer answers, whether the HTTP answer is a
 * challenge: no token or a refused one (401), or a policy that refuses one of
 * the methods the body needs (403 insufficient_scope). The same verifier and
 * policy then run again inside MeshServer.dispatch, which is what audits and
 * executes; this gate only chooses the HTTP status MCP clients act on.
 */
export async function admit(
  o: GateOptions,
  authorization: string | undefined,
  paths: string[],
  identity: PeerIdentity,
): Promise<Refusal | undefined> {
  const token = authorization === undefined ? undefined : bearerToken([authorization]);
  if (!token) {
    o.onTokenFailure?.('missing');
    return { status: 401, description: 'missing bearer access token' };
  }
  let scopes: string[];
  try {
    scopes = o.verifier.principalOf(await o.verifier.verify(token)).scopes;
  } catch (err) {
    const failure = err instanceof TokenError ? err : new TokenError('malformed', 'token malformed', { cause: err });
    o.onTokenFailure?.(failure.reason);
    o.log.warn({ reason: failure.reason, peer: identity.spiffeId, err: failure.cause }, 'mcp: token refused');
    if (failure.reason === 'jwks_unavailable') return { status: 503, description: failure.message };
    return { status: 401, error: 'invalid_token', description: failure.message };
  }
  for (const path of paths) {
    const decision = authorize(o.policy, path, { spiffeId: identity.spiffeId, scopes });
    if (decision.allowed) continue;
    o.log.warn({ peer: identity.spiffeId, method: path.slice(1), reason: decision.reason }, 'mcp: refused by policy');
    return { status: 403, error: 'insufficient_scope', description: decision.reason };
  }
  return undefined;
}
