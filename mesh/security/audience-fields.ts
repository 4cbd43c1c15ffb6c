import type { AudienceRequest } from './claim-mapping.js';

/**
 * The fields of a token request (a workload's or a person's) for one audience, the way the issuer expects it named
 * (the preset's request style): RFC 8707 `resource`, Keycloak's `audience`, Entra's
 * `{audience}/.default` scope (which replaces any other scope but openid/offline_access), or
 * nothing (Okta: one audience per authorization server). `scopes` are the mesh scopes asked for.
 */
export function audienceFields(
  request: readonly AudienceRequest[],
  audience: string | undefined,
  scopes: readonly string[],
  signIn = false,
): [string, string][] {
  const fields: [string, string][] = [];
  const base = signIn ? ['openid', 'offline_access'] : [];
  if (audience && request.includes('default-scope')) {
    fields.push(['scope', [...base, `${audience.replace(/\/$/, '')}/.default`].join(' ')]);
  } else if (base.length || scopes.length) {
    fields.push(['scope', [...base, ...scopes].join(' ')]);
  }
  if (audience && request.includes('resource')) fields.push(['resource', audience]);
  if (audience && request.includes('audience')) fields.push(['audience', audience]);
  return fields;
}
