import type { JWTPayload } from 'jose';

/**
 * Which claims of a verified access token make the mesh's principal. Each
 * list is tried or merged in order; a name may be a dotted path into nested
 * objects (Keycloak's `realm_access.roles`).
 */
export interface ClaimMapping {
  /** The subject: the first of these claims that is a non-empty string. */
  subject: string[];
  /** Scopes: the union of these claims, each a space-separated string or an array. */
  scopes: string[];
  /** A person's roles (approvals, auditors): the union of these claims, string or array. */
  roles: string[];
  /** The OAuth client that obtained the token: the first of these that is a string. */
  clientId: string[];
}

/** How a token client names the audience it wants a token for. */
export type AudienceRequest = 'audience' | 'resource' | 'default-scope' | 'none';

/** What a preset decides: the claim mapping, the token `typ` required ('' = none), how audiences are requested. */
export interface IssuerPreset {
  claims: ClaimMapping;
  tokenType: string;
  request: AudienceRequest[];
}

/**
 * Presets for the identity providers enterprises run, documented side by side
 * in docs/security.md. Nothing here is read from a vendor's library: they are
 * the claim names each provider documents for its access tokens.
 */
export const PRESETS = {
  /** The mesh's own authorization server (the default): RFC 9068 tokens, `audience` requested. */
  agentmesh: {
    claims: {
      subject: ['sub'],
      scopes: ['scope', 'scp'],
      roles: ['roles', 'groups'],
      clientId: ['client_id', 'azp', 'appid'],
    },
    tokenType: 'at+jwt',
    request: ['audience'],
  },
  /** Any RFC 9068 / RFC 8707 server (oidc-provider, Auth0, Ping...): `resource` requested, `at+jwt` required. */
  rfc9068: {
    claims: { subject: ['sub'], scopes: ['scope'], roles: ['roles', 'groups'], clientId: ['client_id', 'azp'] },
    tokenType: 'at+jwt',
    request: ['resource'],
  },
  /**
   * Microsoft Entra ID (v2 tokens): `oid` is the same person in every application (`sub` differs per
   * audience), delegated scopes in `scp` (a string), application permissions and app roles in `roles`,
   * the client in `azp` (v2) or `appid` (v1); tokens are asked for with `scope={audience}/.default`.
   */
  entra: {
    claims: {
      subject: ['oid', 'sub'],
      scopes: ['scp', 'roles'],
      roles: ['roles', 'groups'],
      clientId: ['azp', 'appid'],
    },
    tokenType: '',
    request: ['default-scope'],
  },
  /** Okta (custom authorization server): scopes in `scp` (an array), the client in `cid`, groups in `groups`; the audience is the server's. */
  okta: {
    claims: { subject: ['sub'], scopes: ['scp'], roles: ['groups'], clientId: ['cid'] },
    tokenType: '',
    request: ['none'],
  },
  /** Keycloak: scopes in `scope`, realm roles in `realm_access.roles`, the client in `azp`; `audience` requested (its token exchange). */
  keycloak: {
    claims: {
      subject: ['sub'],
      scopes: ['scope'],
      roles: ['realm_access.roles', 'groups'],
      clientId: ['azp', 'client_id'],
    },
    tokenType: '',
    request: ['audience'],
  },
} satisfies Record<string, IssuerPreset>;

/** The name of a preset. */
export type PresetName = keyof typeof PRESETS;

/** The preset names, for configuration schemas. */
export const PRESET_NAMES = Object.keys(PRESETS) as [PresetName, ...PresetName[]];

function claimAt(claims: JWTPayload, path: string): unknown {
  let value: unknown = claims;
  for (const part of path.split('.')) {
    if (!value || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function listAt(claims: JWTPayload, path: string): string[] {
  const value = claimAt(claims, path);
  if (typeof value === 'string') return value.split(' ').filter(Boolean);
  if (Array.isArray(value)) return value.filter((s): s is string => typeof s === 'string' && s.length > 0);
  return [];
}

const union = (claims: JWTPayload, paths: string[]) => [...new Set(paths.flatMap((p) => listAt(claims, p)))];

function firstString(claims: JWTPayload, paths: string[]): string | undefined {
  for (const path of paths) {
    const value = claimAt(claims, path);
    if (typeof value === 'string' && value) return value;
  }
  return undefined;
}

/** What the principal is made of, read from verified claims by a mapping. */
export interface MappedClaims {
  subject: string | undefined;
  scopes: string[];
  roles: string[];
  clientId: string | undefined;
}

/** Reads the principal's parts from verified claims. */
export function mapClaims(claims: JWTPayload, mapping: ClaimMapping): MappedClaims {
  return {
    subject: firstString(claims, mapping.subject),
    scopes: union(claims, mapping.scopes),
    roles: union(claims, mapping.roles),
    clientId: firstString(claims, mapping.clientId),
  };
}
