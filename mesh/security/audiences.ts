import { spiffeIdOfService } from './spiffe-id.js';

/** Maps a service name ("namespace/name") to the audience its tokens carry. */
export type AudienceOf = (service: string) => string;

/**
 * The audience scheme of AGENTMESH_OAUTH_AUDIENCE: `service` (the service
 * name, the default), `spiffe` (its SPIFFE ID), or a template where
 * `{namespace}`, `{name}`, `{service}` and `{trustDomain}` are replaced, e.g.
 * `https://{name}.{namespace}.agents.bank.example` or `api://agentmesh-{name}`;
 * a value without placeholders is one audience for every service (Okta's
 * authorization server audience). The same scheme tells callers what to ask for.
 * Explicit audiences (AGENTMESH_OAUTH_AUDIENCES, `service=audience`) win over the scheme.
 */
export function audienceScheme(scheme: string, trustDomain: string, explicit: Record<string, string> = {}): AudienceOf {
  const byScheme = schemeOnly(scheme, trustDomain);
  return (service) => explicit[service] ?? byScheme(service);
}

function schemeOnly(scheme: string, trustDomain: string): AudienceOf {
  if (scheme === 'service') return (service) => service;
  if (scheme === 'spiffe') return (service) => spiffeIdOfService(trustDomain, service);
  return (service) => {
    const [namespace = '', name = ''] = service.split('/');
    return scheme.replace(/\{(namespace|name|service|trustDomain)\}/g, (_, key: string) =>
      key === 'namespace' ? namespace : key === 'name' ? name : key === 'service' ? service : trustDomain,
    );
  };
}

/** Why a scheme cannot be used, or undefined: unknown placeholders, or (for RFC 8707 `resource`) not an absolute URI. */
export function audienceSchemeProblem(scheme: string, mustBeUri: boolean): string | undefined {
  const unknown = /\{(?!namespace\}|name\}|service\}|trustDomain\})[^}]*\}/.exec(scheme);
  if (unknown) return `has an unknown placeholder ${unknown[0]} (use {namespace}, {name}, {service}, {trustDomain})`;
  if (!mustBeUri || scheme === 'spiffe') return undefined;
  const sample = audienceScheme(scheme, 'example.org')('ns/name');
  if (scheme === 'service' || !/^[a-z][a-z0-9+.-]*:/i.test(sample))
    return `gives ${sample}, not an absolute URI, which RFC 8707 requires of a resource indicator (use spiffe or a URI template)`;
  return undefined;
}

/** Parses AGENTMESH_OAUTH_AUDIENCES: `ns/name=audience` pairs, comma-separated; a problem as text. */
export function parseExplicitAudiences(value: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (const pair of value
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const at = pair.indexOf('=');
    const service = pair.slice(0, at).trim();
    const audience = pair.slice(at + 1).trim();
    if (at < 0 || !/^[a-z0-9-]+\/[a-z0-9-]+$/.test(service) || !audience)
      return `has "${pair}": write namespace/name=audience pairs, comma-separated`;
    out[service] = audience;
  }
  return out;
}
