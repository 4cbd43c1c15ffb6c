import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { McpAuthMode, type ExternalMcpServer, type McpAuth } from '../../gen/agentmesh/v1/card.js';
import { Code, MeshError } from '../core/index.js';

// An external MCP server is known to the mesh by the one URL its Streamable HTTP endpoint
// answers at and by how agents authenticate there. The registry shows the URL to every reader
// and agents send tokens to it, so it is held to https, with nothing in it that could carry a
// credential (userinfo, query) or be ignored by one client and not another (fragment).

const invalid = (field: string, problem: string) => new MeshError(Code.INVALID_ARGUMENT, `${field}: ${problem}`);
const quoted = (s: string, max = 80) => JSON.stringify(s.slice(0, max));

/** The longest MCP server URL the registry accepts. */
const MAX_URL = 2_048;
// A secret reference: `<path>` or `<path>#<field>`, path segments as secrets providers name them.
const SECRET_PATH = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$/;
const SECRET_FIELD = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
// RFC 6749 scope-token: printable ASCII without space, '"' and '\'.
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]{1,256}$/;
const PROTOCOL_VERSION = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;

/**
 * Parses an https URL for an external server (an MCP endpoint or a token endpoint): absolute,
 * no userinfo, no query, no fragment. Returns the URL; INVALID_ARGUMENT names `field`.
 */
export function parseExternalHttpsUrl(raw: string, field: string): URL {
  if (!raw.trim()) throw invalid(field, 'required');
  if (raw.length > MAX_URL) throw invalid(field, `longer than ${MAX_URL} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid(field, `not an absolute URL (got ${quoted(raw)})`);
  }
  if (url.protocol !== 'https:') throw invalid(field, `must be an https:// URL (got ${quoted(raw)})`);
  if (!url.hostname) throw invalid(field, 'has no host');
  if (url.username || url.password)
    throw invalid(field, 'must not carry a user or password (credentials go in auth.secret)');
  // Refused rather than stripped: a query is where API keys hide, and dropping part of what the
  // administrator typed would register a server other than the one meant.
  if (url.search || raw.includes('?'))
    throw invalid(field, 'must not have a query string (credentials go in auth.secret)');
  if (url.hash || raw.includes('#')) throw invalid(field, 'must not have a fragment');
  return url;
}

/**
 * The folder of the secrets provider MCP secret references must be in. An entry names a secret
 * that agents send to its URL: confined to this folder, a registry administrator cannot have an
 * agent send any other of its secrets (a database password) to a server of their choosing.
 */
export const MCP_SECRET_PREFIX = 'mcp/';

/** Splits a secret reference `<path>#<field>` (field optional, path under mcp/); INVALID_ARGUMENT names `field`. */
export function parseMcpSecretRef(ref: string, field = 'card.mcp.auth.secret'): { path: string; field?: string } {
  const hash = ref.indexOf('#');
  const path = hash < 0 ? ref : ref.slice(0, hash);
  const name = hash < 0 ? undefined : ref.slice(hash + 1);
  if (path.length > 256 || !SECRET_PATH.test(path) || path.split('/').some((s) => s === '.' || s === '..'))
    throw invalid(field, `must be <path> or <path>#<field>, the path made of / separated names (got ${quoted(ref)})`);
  if (!path.startsWith(MCP_SECRET_PREFIX) || path.length === MCP_SECRET_PREFIX.length)
    throw invalid(field, `must name a secret under ${MCP_SECRET_PREFIX} (got ${quoted(ref)})`);
  if (name !== undefined && !SECRET_FIELD.test(name))
    throw invalid(field, `field after # must be a name of letters, digits, . _ - (got ${quoted(name)})`);
  return name === undefined ? { path } : { path, field: name };
}

function checkPemBundle(pem: string, field: string): void {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (!blocks.length) throw invalid(field, 'not a PEM certificate bundle');
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block);
    } catch {
      throw invalid(field, `certificate ${i + 1} of the bundle does not parse`);
    }
  });
}

function checkAuth(auth: McpAuth | undefined, field: string): void {
  if (!auth) throw invalid(field, 'required: how agents authenticate to the server');
  const mode = auth.mode;
  const has = (k: 'tokenUrl' | 'clientId' | 'secret' | 'resource') => auth[k].trim() !== '';
  const refuse = (k: string, why: string) => invalid(`${field}.${k}`, why);
  if (mode === McpAuthMode.MCP_AUTH_MODE_STATIC_SECRET) {
    if (!has('secret')) throw refuse('secret', 'required for STATIC_SECRET: the secret holding the bearer credential');
    for (const [k, name] of [
      ['tokenUrl', 'token_url'],
      ['clientId', 'client_id'],
      ['resource', 'resource'],
    ] as const)
      if (has(k)) throw refuse(name, 'must be empty for STATIC_SECRET (no token is asked for)');
    if (auth.scopes.length) throw refuse('scopes', 'must be empty for STATIC_SECRET (no token is asked for)');
  } else if (mode === McpAuthMode.MCP_AUTH_MODE_CLIENT_CREDENTIALS) {
    if (has('tokenUrl')) {
      parseExternalHttpsUrl(auth.tokenUrl, `${field}.token_url`);
      if (!has('clientId')) throw refuse('client_id', 'required with a token_url: the client id there');
      if (!has('secret')) throw refuse('secret', 'required with a token_url: the secret holding the client secret');
    } else {
      // The mesh's own authorization server: agents use their workload credentials, nothing else.
      if (has('clientId')) throw refuse('client_id', 'must be empty without a token_url (agents use their own)');
      if (has('secret')) throw refuse('secret', 'must be empty without a token_url (agents use their own credentials)');
      // Without named scopes the mesh grants every scope of the agent, in a token sent out of the mesh.
      if (!auth.scopes.length)
        throw refuse(
          'scopes',
          'required without a token_url: a mesh token naming none carries every scope of the agent',
        );
      if (has('resource'))
        throw refuse('resource', 'must be empty without a token_url (the mesh token is for the registered name)');
    }
  } else if (mode === McpAuthMode.MCP_AUTH_MODE_TOKEN_EXCHANGE) {
    // Exchanging a caller's token elsewhere would send the caller's token out of the mesh.
    if (has('tokenUrl')) throw refuse('token_url', "must be empty for TOKEN_EXCHANGE: only the mesh's token endpoint");
    if (has('clientId')) throw refuse('client_id', 'must be empty for TOKEN_EXCHANGE (agents use their own)');
    if (has('secret')) throw refuse('secret', 'must be empty for TOKEN_EXCHANGE (agents use their own credentials)');
    // Agents refuse it too: a token exchanged without named scopes carries every scope of the caller.
    if (!auth.scopes.length)
      throw refuse(
        'scopes',
        'required for TOKEN_EXCHANGE: an exchanged token naming none carries every scope of the caller',
      );
    if (has('resource'))
      throw refuse('resource', 'must be empty for TOKEN_EXCHANGE (the exchanged token is for the registered name)');
  } else throw refuse('mode', 'required: CLIENT_CREDENTIALS, TOKEN_EXCHANGE or STATIC_SECRET');
  if (has('secret')) parseMcpSecretRef(auth.secret, `${field}.secret`);
  if (has('resource') && (auth.resource.length > 512 || /\s/.test(auth.resource)))
    throw refuse('resource', `must be a URI or audience without spaces (got ${quoted(auth.resource)})`);
  const seen = new Set<string>();
  auth.scopes.forEach((s, i) => {
    if (!SCOPE.test(s)) throw invalid(`${field}.scopes[${i}]`, `not an OAuth scope (got ${quoted(s, 40)})`);
    if (seen.has(s)) throw invalid(`${field}.scopes[${i}]`, `duplicate scope ${s}`);
    seen.add(s);
  });
}

/**
 * Checks the MCP binding of an external tool service's card: external, an https URL, a
 * consistent way to authenticate and an optional CA bundle. Returns the parsed URL.
 */
export function checkExternalMcpServer(mcp: ExternalMcpServer | undefined, field = 'card.mcp'): URL {
  if (!mcp) throw invalid(field, 'required: the external MCP server (url, auth)');
  if (!mcp.external) throw invalid(`${field}.external`, 'must be true for an external MCP server');
  const url = parseExternalHttpsUrl(mcp.url, `${field}.url`);
  if (mcp.caPem.trim()) checkPemBundle(mcp.caPem, `${field}.ca_pem`);
  checkAuth(mcp.auth, `${field}.auth`);
  if (mcp.protocolVersion && !PROTOCOL_VERSION.test(mcp.protocolVersion))
    throw invalid(`${field}.protocol_version`, `not an MCP protocol version (got ${quoted(mcp.protocolVersion, 40)})`);
  return url;
}

/**
 * Whether a URL host is this machine or link-local by its spelling: localhost (and *.localhost),
 * 127.0.0.0/8, 0.0.0.0, 169.254.0.0/16, ::1, ::, fe80::/10, and those IPv4 addresses mapped into
 * IPv6. A DNS name that resolves there is not seen (nothing is resolved).
 */
export function isLoopbackOrLinkLocal(hostname: string): boolean {
  const host = hostname
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const v4 = (ip: string) => /^(127\.\d+\.\d+\.\d+|0\.0\.0\.0|169\.254\.\d+\.\d+)$/.test(ip);
  if (isIP(host) === 4) return v4(host);
  if (isIP(host) !== 6) return false;
  if (host === '::1' || host === '::' || /^fe[89ab][0-9a-f]?:/.test(host)) return true;
  // ::ffff:127.0.0.1, which the URL parser writes as ::ffff:7f00:1.
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (mapped) {
    const hi = parseInt(mapped[1]!, 16);
    const lo = parseInt(mapped[2]!, 16);
    return v4(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`);
  }
  return /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.test(host) && v4(host.slice(7));
}

/** host:port of an https URL, the port 443 when the URL names none. */
export function mcpAddressOf(url: URL): string {
  return `${url.hostname}:${url.port || '443'}`;
}
