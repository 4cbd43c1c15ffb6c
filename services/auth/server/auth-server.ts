import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { AudienceOf, CertificateFiles } from '../../../mesh/index.js';
import type { SecretsProvider } from '../../../mesh/index.js';
import { ClientAuthenticator } from './client-auth.js';
import type { ClientDirectory, OAuthClient } from './clients.js';
import type { ExternalSubjects } from './external-subjects.js';
import { FederatedCredentials } from './federated-credentials.js';
import { OAuthError } from './oauth-error.js';
import type { SigningKeys } from './signing-keys.js';
import { TokenEndpoint } from './token-endpoint.js';
import type { UserDirectory } from './users.js';
import type { AuditLog } from '../../../mesh/index.js';

/** Options for the local authorization server. */
export interface AuthServerOptions {
  host: string;
  port: number;
  /** The issuer URL; default https://<host>:<bound port> (http:// without tls). */
  issuer?: string;
  /**
   * Its TLS certificate (from the mesh CA), reloaded on rotation. Absent only
   * behind an Istio sidecar, which terminates mTLS: then it serves plain HTTP.
   */
  tls?: CertificateFiles;
  clients: ClientDirectory;
  keys: SigningKeys;
  secrets: SecretsProvider;
  tokenTtlSec?: number;
  isActive?: (client: OAuthClient) => Promise<boolean>;
  /** The people of the dev login and their roles; absent: a person gets whatever the client may obtain. */
  users?: UserDirectory;
  log: Logger;
  /** The audit trail: every token issued and every refused token request. */
  audit?: AuditLog;
  /** The audience a service's tokens carry (AGENTMESH_OAUTH_AUDIENCE / _AUDIENCES); default: the service name. */
  audienceOf?: AudienceOf;
  /** Enterprise identity providers whose people's tokens may be exchanged (AGENTMESH_OAUTH_TRUST_FILE). */
  external?: ExternalSubjects;
  /** PEM CA for the metadata and keys of federated credentials' issuers (default: the system's CAs). */
  federatedCa?: string;
  /** Tolerated clock difference for federated credentials' exp/nbf, seconds (default 30). */
  clockToleranceSec?: number;
}

/** A running authorization server. */
export interface RunningAuthServer {
  issuer: string;
  tokenUrl: string;
  jwksUrl: string;
  port: number;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new OAuthError('invalid_request', 'request body too large', 413));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString()));
    req.on('error', reject);
  });
}

/** The client id a token request names (Basic credentials, client_id, or a client assertion's iss), if any. */
function claimedClient(form: URLSearchParams, authorization: string | undefined): string | undefined {
  if (authorization?.startsWith('Basic ')) {
    const decoded = Buffer.from(authorization.slice(6), 'base64').toString();
    if (decoded.includes(':')) return decodeURIComponent(decoded.slice(0, decoded.indexOf(':')));
  }
  // A federated assertion's iss is another issuer: the client_id it comes with names the client.
  const named = form.get('client_id');
  if (named) return named;
  const assertion = form.get('client_assertion')?.split('.')[1];
  if (assertion) {
    try {
      const iss = (JSON.parse(Buffer.from(assertion, 'base64url').toString()) as { iss?: unknown }).iss;
      if (typeof iss === 'string') return iss;
    } catch {
      // not a JWT: no client named
    }
  }
  return undefined;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

/**
 * The authorization server of the local mesh, over HTTPS with the mesh CA
 * (or plain HTTP to its own sidecar in istio mode):
 * RFC 8414 metadata, JWKS, and a token endpoint with client credentials
 * (secret or private-key JWT) and token exchange (RFC 8693).
 */
export async function startAuthServer(options: AuthServerOptions): Promise<RunningAuthServer> {
  let issuer = options.issuer ?? '';
  const tokenPath = '/oauth2/token';
  const jwksPath = '/oauth2/jwks';
  const federated = new FederatedCredentials({
    tokenUrl: () => issuer + tokenPath,
    ca: options.federatedCa,
    clockToleranceSec: options.clockToleranceSec,
  });
  const authenticator = new ClientAuthenticator(
    options.clients,
    options.secrets,
    () => [issuer, issuer + tokenPath],
    federated,
  );
  const endpoint = new TokenEndpoint({
    issuer: () => issuer,
    keys: options.keys,
    authenticator,
    tokenTtlSec: options.tokenTtlSec ?? 300,
    isActive: options.isActive,
    userScopes: options.users ? (user) => options.users!.scopesOf(user) : undefined,
    userRoles: options.users ? (user) => options.users!.rolesOf(user) : undefined,
    isClientId: (name) => options.clients.get(name) !== undefined,
    policyFileOf: (audience) => options.clients.get(audience)?.policy_file,
    audienceOf: options.audienceOf,
    clientIds: () => options.clients.ids(),
    external: options.external,
    log: options.log,
    audit: options.audit,
  });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'https://x').pathname;
    if (req.method === 'GET' && path === '/.well-known/oauth-authorization-server') {
      return send(res, 200, {
        issuer,
        token_endpoint: issuer + tokenPath,
        jwks_uri: issuer + jwksPath,
        grant_types_supported: ['client_credentials', 'urn:ietf:params:oauth:grant-type:token-exchange'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
        token_endpoint_auth_signing_alg_values_supported: ['ES256', 'RS256', 'EdDSA'],
      });
    }
    if (req.method === 'GET' && path === jwksPath)
      return send(res, 200, await options.keys.jwks(), { 'cache-control': 'max-age=60' });
    if (path !== tokenPath) return send(res, 404, { error: 'not_found' });
    if (req.method !== 'POST') return send(res, 405, { error: 'invalid_request', error_description: 'use POST' });
    if (!String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) {
      return send(res, 400, {
        error: 'invalid_request',
        error_description: 'body must be application/x-www-form-urlencoded',
      });
    }
    const form = new URLSearchParams(await readBody(req));
    try {
      send(res, 200, await endpoint.handle(form, req.headers.authorization));
    } catch (err) {
      if (err instanceof OAuthError) {
        // The client named in the request: not verified when the refusal is about its credentials.
        await options.audit?.append({
          kind: 'token_refused',
          service: 'agentmesh/auth',
          peer: claimedClient(form, req.headers.authorization),
          resource: form.get('audience') ?? form.get('resource') ?? undefined,
          outcome: err.error,
          reason: err.description,
        });
      }
      throw err;
    }
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof OAuthError) {
        options.log.warn({ error: err.error, description: err.description }, 'token request refused');
        const headers: Record<string, string> =
          err.status === 401 ? { 'www-authenticate': 'Basic realm="agentmesh"' } : {};
        return send(res, err.status, { error: err.error, error_description: err.description }, headers);
      }
      options.log.error({ err }, 'token endpoint failed');
      send(res, 500, { error: 'server_error' });
    });
  };
  const tls = options.tls;
  const server: Server = tls
    ? createHttpsServer({ cert: tls.certificatePem, key: tls.privateKeyPem }, onRequest)
    : createHttpServer(onRequest);
  // Serve a rotated certificate to new connections without a restart.
  tls?.addIdentityCertificateListener((update) => {
    if (update)
      (server as ReturnType<typeof createHttpsServer>).setSecureContext({
        cert: update.certificate,
        key: update.privateKey,
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  issuer ||= `${tls ? 'https' : 'http'}://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`;
  options.log.info({ issuer, port }, 'authorization server listening');
  return {
    issuer,
    tokenUrl: issuer + tokenPath,
    jwksUrl: issuer + jwksPath,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
