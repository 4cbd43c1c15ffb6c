import { ConfigError } from '../config/index.js';
import { httpRequest } from './https-client.js';

/**
 * Where an issuer may publish its metadata, in the order tried: RFC 8414
 * (for an issuer with a path, the well-known segment goes before the path;
 * the appended form as well, which many servers use), then OpenID Connect
 * discovery (all that Entra ID publishes).
 */
export function metadataUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/$/, '');
  const base = `${url.origin}${path}`;
  return [
    ...(path ? [`${url.origin}/.well-known/oauth-authorization-server${path}`] : []),
    `${base}/.well-known/oauth-authorization-server`,
    `${base}/.well-known/openid-configuration`,
  ];
}

/**
 * The issuer's metadata (RFC 8414 or OpenID Connect discovery, whichever it
 * publishes), for the endpoints not configured explicitly. A document naming
 * another issuer is refused (RFC 8414 §3.3: no mix-up of issuers).
 */
export async function issuerMetadata(
  issuer: string,
  ca: string | undefined,
  variable = 'AGENTMESH_OAUTH_ISSUER',
): Promise<{ jwks_uri?: string; token_endpoint?: string }> {
  const misses: string[] = [];
  for (const url of metadataUrls(issuer)) {
    const answer = await httpRequest(url, { ca }).catch((err: Error) => {
      throw new ConfigError(variable, `${issuer} is unreachable (${err.message})`);
    });
    if (answer.status !== 200) {
      misses.push(`${new URL(url).pathname}: HTTP ${answer.status}`);
      continue;
    }
    const meta = JSON.parse(answer.body.toString()) as { issuer?: unknown; jwks_uri?: string; token_endpoint?: string };
    const same = (a: string) => a.replace(/\/$/, '');
    if (typeof meta.issuer !== 'string' || same(meta.issuer) !== same(issuer))
      throw new ConfigError(
        variable,
        `is ${issuer}, but its metadata at ${url} names the issuer ${String(meta.issuer)}`,
      );
    return meta;
  }
  throw new ConfigError(
    variable,
    `${issuer} publishes no metadata (RFC 8414 or OpenID Connect discovery): ${misses.join('; ')}`,
  );
}

/** A required token `typ`: "none" (or empty) requires none. */
export function tokenType(setting: string): string {
  return setting === 'none' ? '' : setting;
}
