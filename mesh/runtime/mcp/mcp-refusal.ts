import type { ServerResponse } from 'node:http';
import { Metadata } from '@grpc/grpc-js';
import { Code, MeshError, type PeerIdentity } from '../../core/index.js';
import type { MeshServer } from '../../server/index.js';
import { challengeHeader, type Refusal } from './mcp-challenge.js';

/** Who a refused request came from, for the record of its refusal. */
export interface RefusedCall {
  authorization: string | undefined;
  identity: PeerIdentity;
  peer: string;
}

/** What answering a refusal needs of the endpoint: its server, and its metadata URL and scopes for the challenge. */
export interface RefusalOptions {
  server: MeshServer;
  metadata: () => { url: string; challengeScopes: string[] };
}

/** The gRPC status a refusal of the HTTP gate stands for. */
const codeOfRefusal = (refusal: Refusal) =>
  ({ 401: Code.UNAUTHENTICATED, 403: Code.PERMISSION_DENIED, 503: Code.UNAVAILABLE })[refusal.status];

/**
 * Answers a refusal, after recording it: the refused method is dispatched
 * with the caller's token and identity, so the interceptor chain refuses it
 * as it would a gRPC call (access log, grpc_server_handled, token failure
 * metric, auth_failure / authz_denied audit record), never reaching the
 * handler. The HTTP answer is the gate's: the challenge header and an OAuth
 * error body (RFC 6750 §3), with no error code when none applies.
 */
export async function refuse(res: ServerResponse, refusal: Refusal, o: RefusalOptions, call: RefusedCall) {
  const metadata = new Metadata();
  if (call.authorization !== undefined) metadata.set('authorization', call.authorization);
  const refusedWith = new MeshError(codeOfRefusal(refusal), refusal.description);
  await o.server
    .dispatch(refusal.path, {}, { metadata, peer: call.peer, identity: call.identity, refusedWith })
    .catch(() => undefined);
  const { url, challengeScopes } = o.metadata();
  const headers: Record<string, string> = { 'www-authenticate': challengeHeader(refusal, url, challengeScopes) };
  if (refusal.status === 503) headers['retry-after'] = '1';
  const body = { ...(refusal.error && { error: refusal.error }), error_description: refusal.description };
  res.writeHead(refusal.status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}
