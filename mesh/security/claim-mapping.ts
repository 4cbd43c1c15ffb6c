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
  /**
   * What marks a workload's own token (client credentials) where its subject is not its client id
   * (Entra: no `scp`; Keycloak: a service-account user). Any match makes it a workload: it gets no
   * person roles and never counts as a person (approvals). Subject = client id always counts.
   */
  workload?: WorkloadRule[];
}

/** One sign of a workload token: `claim` absent, equal to `equals`, or starting with `prefix`. */
export interface WorkloadRule {
  claim: string;
  absent?: boolean;
  equals?: string;
  prefix?: string;
}

/** How a token client names the audience it wants a token for. */
export type AudienceRequest = 'audience' | 'resource' | 'default-scope' | 'none';

/** What a preset decides: the claim mapping, the token `typ` required ('' = none), how audiences are requested. */
export interface IssuerPreset {
  claims: ClaimMapping;
  tokenType: string;
  request: AudienceRequest[];
  /**
   * Where no `typ` tells an access token from an ID token: an access token carries one of these
   * claims (Entra `azp`/`appid`, Okta `cid`, Keycloak `scope`); empty when `typ` decides.
   */
  accessTokenClaims: string[];
}

/**
 * Presets for the identity providers enterprises run, documented side by side
 * in docs/security.md. Nothing here is read from a vendor's library: they are
 * the claim names each provider documents for its access tokens.
 */
const PRESET_TABLE = {
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
    accessTokenClaims: [],
  },
  /** Any RFC 9068 / RFC 8707 server (oidc-provider, Auth0, Ping...): `resource` requested, `at+jwt` required. */
  rfc9068: {
    claims: { subject: ['sub'], scopes: ['scope'], roles: ['roles', 'groups'], clientId: ['client_id', 'azp'] },
    tokenType: 'at+jwt',
    request: ['resource'],
    accessTokenClaims: [],
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
      // Application-only tokens carry no `scp` (and `idtyp: app` where that optional claim is on).
      workload: [
        { claim: 'idtyp', equals: 'app' },
        { claim: 'scp', absent: true },
      ],
    },
    tokenType: '',
    request: ['default-scope'],
    accessTokenClaims: ['azp', 'appid'],
  },
  /** Okta (custom authorization server): scopes in `scp` (an array), the client in `cid`, groups in `groups`; the audience is the server's. */
  okta: {
    claims: { subject: ['sub'], scopes: ['scp'], roles: ['groups'], clientId: ['cid'] },
    tokenType: '',
    request: ['none'],
    accessTokenClaims: ['cid'],
  },
  /** Keycloak: scopes in `scope`, realm roles in `realm_access.roles`, the client in `azp`; `audience` requested (its token exchange). */
  keycloak: {
    claims: {
      subject: ['sub'],
      scopes: ['scope'],
      roles: ['realm_access.roles', 'groups'],
      clientId: ['azp', 'client_id'],
      // A client's service account is the user `service-account-<client>`.
      workload: [{ claim: 'preferred_username', prefix: 'service-account-' }],
    },
    tokenType: '',
    request: ['audience'],
    accessTokenClaims: ['scope'],
  },
} satisfies Record<string, IssuerPreset>;

/** The name of a preset. */
export type PresetName = keyof typeof PRESET_TABLE;

/** The presets by name (docs/security.md "The presets side by side"). */
export const PRESETS: Record<PresetName, IssuerPreset> = PRESET_TABLE;

/** The preset names, for configuration schemas. */
export const PRESET_NAMES = Object.keys(PRESETS) as [PresetName, ...PresetName[]];

function claimAt(claims: JWTPayload, path: string): unknown {
  let value: unknown = claims;
  for (const part of path.split('.')) {
    // Own properties only: a path must never reach a prototype (`__proto__`, `constructor`).
    if (!value || typeof value !== 'object' || !Object.hasOwn(value, part)) return undefined;
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
  /** A person's roles; none for a workload's own token. */
  roles: string[];
  clientId: string | undefined;
  /** The token is a workload's own (client credentials), not a person's. */
  workload: boolean;
}

function matches(claims: JWTPayload, rule: WorkloadRule): boolean {
  const value = claimAt(claims, rule.claim);
  if (rule.absent) return value === undefined;
  if (typeof value !== 'string') return false;
  return rule.equals !== undefined ? value === rule.equals : rule.prefix !== undefined && value.startsWith(rule.prefix);
}

/** Reads the principal's parts from verified claims. */
export function mapClaims(claims: JWTPayload, mapping: ClaimMapping): MappedClaims {
  const subject = firstString(claims, mapping.subject);
  const clientId = firstString(claims, mapping.clientId);
  const workload =
    (subject !== undefined && subject === clientId) || (mapping.workload ?? []).some((r) => matches(claims, r));
  return {
    subject,
    scopes: union(claims, mapping.scopes),
    roles: workload ? [] : union(claims, mapping.roles),
    clientId,
    workload,
  };
}
