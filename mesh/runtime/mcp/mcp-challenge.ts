/** The path of the MCP endpoint on its port. */
export const MCP_PATH = '/mcp';

/** RFC 9728 §3.1: the metadata of resource `<origin>/mcp` sits at this path (the path-suffixed form). */
export const RESOURCE_METADATA_PATH = `/.well-known/oauth-protected-resource${MCP_PATH}`;

/** The root form of the metadata path, for clients that look there first. */
export const RESOURCE_METADATA_ROOT_PATH = '/.well-known/oauth-protected-resource';

/** The RFC 9728 protected resource metadata document of an MCP endpoint. */
export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  scopes_supported: string[];
  bearer_methods_supported: string[];
  resource_name: string;
}

/** What the metadata document says: the resource (`<origin>/mcp`), its issuers, scopes and name. */
export function protectedResourceMetadata(o: {
  origin: string;
  issuers: string[];
  scopes: string[];
  name: string;
}): ProtectedResourceMetadata {
  return {
    resource: `${o.origin}${MCP_PATH}`,
    authorization_servers: [...o.issuers],
    scopes_supported: [...new Set(o.scopes)],
    bearer_methods_supported: ['header'],
    resource_name: o.name,
  };
}

/** The URL of the metadata document of the endpoint at `origin`. */
export const resourceMetadataUrl = (origin: string): string => `${origin}${RESOURCE_METADATA_PATH}`;

/** Why a request is refused before the MCP layer sees it (RFC 6750 §3.1 error codes). */
export interface Refusal {
  /** 401: no usable token; 403: the policy refuses; 503: the token cannot be checked now. */
  status: 401 | 403 | 503;
  /** invalid_token when a token was sent and refused, insufficient_scope on 403; none when no token came. */
  error?: 'invalid_token' | 'insufficient_scope';
  /** Safe for the caller: what the token or the policy lacks, never the token. */
  description: string;
  /** The ToolService method refused, under which the refusal is audited (ListTools when decided before the body). */
  path: string;
  /** insufficient_scope: the scopes the refused method requires, for the challenge's scope hint. */
  scopes?: string[];
}

// A quoted-string of RFC 9110 §5.6.4 holds no control characters; quotes and backslashes are escaped.
const quoted = (v: string) => `"${v.replace(/\p{Cc}/gu, ' ').replace(/["\\]/g, (c) => `\\${c}`)}"`;

/**
 * The `WWW-Authenticate` value of a refusal (RFC 6750 §3, RFC 9728 §5.1): the
 * metadata URL, so a client can find the authorization server, and the scopes
 * to ask for; no error code when no token was sent (RFC 6750 §3.1).
 */
export function challengeHeader(refusal: Omit<Refusal, 'path'>, metadataUrl: string, defaultScopes: string[]): string {
  const params = [`resource_metadata=${quoted(metadataUrl)}`];
  const scopes = refusal.scopes ?? defaultScopes;
  if (scopes.length) params.push(`scope=${quoted(scopes.join(' '))}`);
  if (refusal.error) params.push(`error=${quoted(refusal.error)}`, `error_description=${quoted(refusal.description)}`);
  return `Bearer ${params.join(', ')}`;
}
