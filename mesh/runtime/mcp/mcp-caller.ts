import type { IncomingMessage } from 'node:http';
import { TLSSocket } from 'node:tls';
import { Metadata } from '@grpc/grpc-js';
import { Code, MeshError, type PeerIdentity } from '../../core/index.js';
import {
  authorize,
  bearerToken,
  parseSpiffeId,
  spiffeUrisOf,
  TokenError,
  type ServicePolicy,
  type TokenCheck,
  type Transport,
} from '../../security/index.js';
import type { Refusal } from './mcp-challenge.js';
import { LIST_TOOLS_PATH } from './mcp-methods.js';

const NO_IDENTITY: PeerIdentity = { spiffeId: undefined, source: 'none' };

/** The transport peer of a request as grpc-js would write it ("127.0.0.1:5000", "[::1]:5000"). */
export function peerOf(req: IncomingMessage): string {
  const host = req.socket.remoteAddress ?? 'unknown';
  return `${host.includes(':') ? `[${host}]` : host}:${req.socket.remotePort ?? 0}`;
}

/**
 * The caller's workload identity as this port's transport established it. mtls:
 * the client certificate the TLS layer verified (its trust domain checked when
 * the connection opened and again here), none when `optional` let a certificate-less
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
      if (!id) return NO_IDENTITY;
      // Checked when the connection opened, and again per request: a TLS 1.2 renegotiation may change the certificate.
      if (id.trustDomain !== transport.options.trustDomain)
        throw new MeshError(Code.UNAUTHENTICATED, `client certificate of trust domain ${id.trustDomain}`);
      return { spiffeId: id.uri, source: 'mtls' };
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
}

/**
 * The first half of the gate, before the body is read (an unauthenticated
 * caller makes the server read no megabyte): the bearer token of the
 * Authorization header, verified. Its scopes, or the refusal: no token or a
 * refused one (401), or keys that cannot be fetched now (503). Counting and
 * logging the refusal is left to the interceptor chain the endpoint records
 * it with (MeshServer.dispatch), as for a gRPC call.
 */
export async function authenticate(
  o: GateOptions,
  authorization: string | undefined,
): Promise<{ scopes: string[] } | Refusal> {
  const token = authorization === undefined ? undefined : bearerToken([authorization]);
  if (!token) return { status: 401, description: 'missing bearer access token', path: LIST_TOOLS_PATH };
  try {
    return { scopes: o.verifier.principalOf(await o.verifier.verify(token)).scopes };
  } catch (err) {
    const failure = err instanceof TokenError ? err : new TokenError('malformed', 'token malformed', { cause: err });
    if (failure.reason === 'jwks_unavailable')
      return { status: 503, description: failure.message, path: LIST_TOOLS_PATH };
    return { status: 401, error: 'invalid_token', description: failure.message, path: LIST_TOOLS_PATH };
  }
}

/**
 * The second half, once the body says which methods it needs: the policy
 * decision of each (403). error="insufficient_scope", with the scopes the
 * method's rule requires, only when the scopes were what failed; a caller
 * the policy does not name gets a bare 403 (another token would not help).
 */
export function authorizePaths(
  o: GateOptions,
  paths: string[],
  identity: PeerIdentity,
  scopes: string[],
): Refusal | undefined {
  for (const path of paths) {
    const decision = authorize(o.policy, path, { spiffeId: identity.spiffeId, scopes });
    if (decision.allowed) continue;
    return {
      status: 403,
      description: decision.reason,
      path,
      ...(decision.requiredScopes && { error: 'insufficient_scope', scopes: decision.requiredScopes }),
    };
  }
  return undefined;
}
