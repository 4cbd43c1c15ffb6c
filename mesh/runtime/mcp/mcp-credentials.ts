import { rootCertificates } from 'node:tls';
import { McpAuthMode, type ExternalMcpServer } from '../../../gen/agentmesh/v1/card.js';
import { Code, MeshError } from '../../core/index.js';
import { httpRequest } from '../../security/index.js';
import { authorityRequired } from '../executor.js';
import { serverText } from './mcp-text.js';
import { notAMeshWorkload } from './tls-fetch.js';

/** Where an agent's credentials for external MCP servers come from. */
export interface McpCredentialSources {
  /** This agent's own mesh token for `audience` (client credentials at the mesh's token endpoint). */
  meshToken(audience: string, scopes: string[]): Promise<string>;
  /** Exchanges the caller's token at the mesh's token endpoint for one addressed to `audience` (this agent in `act`). */
  exchange(subjectToken: string, audience: string, scopes: string[]): Promise<string>;
  /** Reads one secret of this agent's secrets provider. */
  readSecret(path: string): Promise<Record<string, string>>;
  /** The folder secret references must be in (AGENTMESH_MCP_SECRET_PREFIX, default mcp/): nothing outside it is read. */
  secretPrefix?: string;
  /** The mesh's trust domain: a token endpoint presenting a SPIFFE ID of it is a mesh workload, refused. */
  trustDomain?: string;
}

/** The default of AGENTMESH_MCP_SECRET_PREFIX. */
export const DEFAULT_MCP_SECRET_PREFIX = 'mcp/';

interface Cached {
  token: string;
  refreshAt: number;
  expiresAt: number;
}

/** A secret reference `<path>#<field>` as path and field (the field defaults to `fallback`). */
export function parseSecretRef(ref: string, fallback: string): { path: string; field: string } {
  const hash = ref.indexOf('#');
  const path = (hash < 0 ? ref : ref.slice(0, hash)).trim();
  const field = (hash < 0 ? '' : ref.slice(hash + 1)).trim() || fallback;
  return { path, field };
}

/** Foreign tokens are cached per token endpoint, client, resource and scopes. */
const cacheKey = (mcp: ExternalMcpServer, scopes: string[]) =>
  [mcp.auth!.tokenUrl, mcp.auth!.clientId, mcp.auth!.resource || mcp.url, [...scopes].sort().join(' ')].join('\n');

/** The longest token endpoint answer read. */
const MAX_TOKEN_ANSWER_BYTES = 64 * 1024;
/** The longest a token request may take, whoever waits for it. */
const TOKEN_REQUEST_TIMEOUT_MS = 10_000;

/** `work`, or the step's end when its signal aborts first (DEADLINE_EXCEEDED for its deadline, else CANCELLED). */
function untilAborted<T>(work: Promise<T>, name: string, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      const timedOut = (signal.reason as Error | undefined)?.name === 'TimeoutError';
      reject(
        new MeshError(
          timedOut ? Code.DEADLINE_EXCEEDED : Code.CANCELLED,
          timedOut
            ? `no credential for external MCP server ${name} before the step's deadline`
            : `credential for external MCP server ${name} no longer needed: the step was stopped`,
          { cause: signal.reason },
        ),
      );
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

const refused = (server: string, why: string) =>
  new MeshError(Code.FAILED_PRECONDITION, `cannot call external MCP server ${server}: ${why}`);

/**
 * The bearer credential an agent sends to an external MCP server, per its
 * registered McpAuth: CLIENT_CREDENTIALS (the agent's own mesh token for the
 * registered name; with a token URL, a client-credentials grant there with
 * client_id and the client secret from the secrets provider, cached until
 * shortly before it expires), TOKEN_EXCHANGE (the task caller's token
 * exchanged at the mesh's token endpoint only) or STATIC_SECRET (the named
 * secret). The caller's own token is never returned. Configuration problems
 * are FAILED_PRECONDITION (not retried); an unreachable token endpoint is
 * UNAVAILABLE. Secret values and tokens never appear in messages.
 */
export class McpCredentials {
  private readonly cache = new Map<string, Cached>();
  private readonly inFlight = new Map<string, Promise<Cached>>();

  constructor(private readonly sources: McpCredentialSources) {}

  /**
   * The bearer token for a call to `name` (its registry name), acting for the task's caller where
   * the mode says so; given up when `signal` aborts (the step's deadline or cancellation), even
   * while another call's request for the same token goes on.
   */
  bearer(
    name: string,
    mcp: ExternalMcpServer,
    authority: () => string | undefined,
    signal?: AbortSignal,
  ): Promise<string> {
    return untilAborted(this.credential(name, mcp, authority), name, signal);
  }

  private async credential(name: string, mcp: ExternalMcpServer, authority: () => string | undefined): Promise<string> {
    const auth = mcp.auth;
    const scopes = (auth?.scopes ?? []).filter((s) => s.trim());
    switch (auth?.mode) {
      case McpAuthMode.MCP_AUTH_MODE_CLIENT_CREDENTIALS:
        if (!auth.tokenUrl) {
          // The mesh grants a token naming no scope every scope of the agent: not for a server outside.
          if (!scopes.length)
            throw refused(
              name,
              'its entry lists no scopes; a mesh token without named scopes would carry every scope of the agent',
            );
          return this.sources.meshToken(name, scopes);
        }
        return this.foreignToken(name, mcp, scopes);
      case McpAuthMode.MCP_AUTH_MODE_TOKEN_EXCHANGE: {
        // The caller's token is only ever exchanged at the mesh's own issuer.
        if (auth.tokenUrl)
          throw refused(
            name,
            `token exchange happens only at the mesh's token endpoint (its entry names ${auth.tokenUrl})`,
          );
        // A token exchanged without a scope carries every scope the caller may delegate: an entry
        // that names none gets none, rather than all of them.
        if (!scopes.length)
          throw refused(
            name,
            'its entry lists no scopes for TOKEN_EXCHANGE; a token without named scopes would carry every scope of the caller',
          );
        const subject = authority();
        // Tokens are never persisted: after a restart the task waits for its caller to come back.
        if (!subject) throw authorityRequired(`no current token of the task's caller to act on ${name} with`);
        return this.sources.exchange(subject, name, scopes);
      }
      case McpAuthMode.MCP_AUTH_MODE_STATIC_SECRET:
        return this.secretField(name, auth.secret, 'token');
      default:
        throw refused(name, 'its entry names no authentication mode');
    }
  }

  /**
   * Drops the cached token of another authorization server for this entry (the MCP server refused
   * it: revoked, or its keys rotated), so the next bearer() asks again. Mesh tokens and secrets
   * have no cache here.
   */
  forget(mcp: ExternalMcpServer): void {
    const auth = mcp.auth;
    if (!auth?.tokenUrl) return;
    const scopes = auth.scopes.filter((s) => s.trim());
    this.cache.delete(cacheKey(mcp, scopes));
  }

  /** One field of a secret named by reference; FAILED_PRECONDITION naming the reference (never the value) when missing. */
  private async secretField(name: string, ref: string, fallback: string): Promise<string> {
    const { path, field } = parseSecretRef(ref, fallback);
    if (!path) throw refused(name, 'its entry names no secret');
    // The registry entry names the secret and the URL it goes to: only secrets meant for MCP servers
    // are read, whatever an administrator registered (checked again here: the registry may be older).
    const prefix = this.sources.secretPrefix ?? DEFAULT_MCP_SECRET_PREFIX;
    const segments = path.split('/');
    if (!path.startsWith(prefix) || path.length === prefix.length || segments.includes('..') || segments.includes('.'))
      throw refused(
        name,
        `its entry names secret ${path.slice(0, 120)}, outside ${prefix} (AGENTMESH_MCP_SECRET_PREFIX)`,
      );
    let fields: Record<string, string>;
    try {
      fields = await this.sources.readSecret(path);
    } catch (err) {
      throw refused(name, `secret ${path} cannot be read (${(err as Error).message})`);
    }
    const value = fields[field];
    if (!value) throw refused(name, `secret ${path} has no field ${field}`);
    return value;
  }

  /** A client-credentials token from another authorization server, cached per endpoint, client, resource and scopes. */
  private async foreignToken(name: string, mcp: ExternalMcpServer, scopes: string[]): Promise<string> {
    const auth = mcp.auth!;
    if (!auth.clientId) throw refused(name, 'its entry names a token URL but no client id');
    const resource = auth.resource || mcp.url;
    const key = cacheKey(mcp, scopes);
    const cached = this.cache.get(key);
    if (cached && Date.now() < cached.refreshAt) return cached.token;
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.secretField(name, auth.secret, 'client_secret')
        .then((secret) => this.request(name, mcp, secret, resource, scopes))
        .finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    try {
      const answer = await pending;
      this.cache.set(key, answer);
      return answer.token;
    } catch (err) {
      // A still-valid token outlives a hiccup of the token endpoint.
      if (cached && Date.now() < cached.expiresAt) return cached.token;
      throw err;
    }
  }

  private async request(
    name: string,
    mcp: ExternalMcpServer,
    secret: string,
    resource: string,
    scopes: string[],
  ): Promise<Cached> {
    const { tokenUrl, clientId } = mcp.auth!;
    if (!tokenUrl.startsWith('https://')) throw refused(name, `its token URL must be https (got ${tokenUrl})`);
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret });
    form.set('resource', resource);
    if (scopes.length) form.set('scope', scopes.join(' '));
    let answer;
    try {
      answer = await httpRequest(tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form.toString(),
        // A partner's authorization server: the system's roots, and the CA bundle its entry names.
        ca: [...rootCertificates, mcp.caPem].filter((pem) => pem.trim()).join('\n'),
        // Shared by every step waiting for this token: bounded in total, not by one step's signal
        // (each step stops waiting at its own deadline, see bearer()).
        signal: AbortSignal.timeout(TOKEN_REQUEST_TIMEOUT_MS),
        // The client secret goes there: a mesh workload posing as the partner's server is refused.
        ...(this.sources.trustDomain ? { checkServerIdentity: notAMeshWorkload(this.sources.trustDomain) } : {}),
        maxBodyBytes: MAX_TOKEN_ANSWER_BYTES,
      });
    } catch (err) {
      const why = serverText((err as Error).message, [secret]);
      // A refused certificate is the entry's (or the server's) configuration: retrying does not change it.
      if (/mesh workload|certificate|self.signed|altname/i.test(why))
        throw refused(name, `its token endpoint's certificate was refused: ${why}`);
      throw new MeshError(Code.UNAVAILABLE, `token endpoint of ${name} unreachable: ${why}`);
    }
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(answer.body.toString() || '{}') as Record<string, unknown>;
    } catch {
      // An HTML error page: reported by status below.
    }
    if (answer.status !== 200 || typeof body.access_token !== 'string') {
      const code = answer.status >= 500 ? Code.UNAVAILABLE : Code.UNAUTHENTICATED;
      // The OAuth error code only (RFC 6749 §5.2), bounded and printable: the rest of the body is the endpoint's.
      const error = typeof body.error === 'string' ? serverText(body.error, [secret], 64) : String(answer.status);
      throw new MeshError(code, `token endpoint of ${name} refused the client credentials of ${clientId}: ${error}`);
    }
    const lifetimeMs = Math.max(1, Number(body.expires_in ?? 300)) * 1000;
    const skew = Math.min(30_000, lifetimeMs / 2);
    const now = Date.now();
    return { token: body.access_token, refreshAt: now + lifetimeMs - skew, expiresAt: now + lifetimeMs };
  }
}
