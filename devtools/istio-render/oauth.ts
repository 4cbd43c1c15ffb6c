// The OAuth settings of the render (istio/render-config.json `oauth`): the
// same ones the services read from AGENTMESH_OAUTH_*, rendered once into the
// namespace settings, the sidecars' RequestAuthentication and a trust file.
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import { z } from 'zod';
import {
  audienceScheme,
  audienceSchemeProblem,
  PRESET_NAMES,
  PRESETS,
  type AudienceRequest,
} from '../../mesh/index.js';
import type { Manifest } from './constants.js';
import { checkNetwork, networkFields, resolveNetwork, type EgressRule } from './egress.js';
import type { RenderConfig } from './render-config.js';

/** Where the trust file's ConfigMap is mounted in every workload. */
export const TRUST_DIR = '/etc/agentmesh/oauth-trust';
/** The ConfigMap holding AGENTMESH_OAUTH_TRUST_FILE's content, one per namespace. */
export const TRUST_CONFIGMAP = 'agentmesh-oauth-trust';

const SERVICE = /^[a-z0-9-]+\/[a-z0-9-]+$/;
const serviceName = z.string().regex(SERVICE, 'must be namespace/name');
const names = z.array(z.string().min(1)).min(1);
const claimsSchema = z.strictObject({ subject: names, scopes: names, roles: names, clientId: names }).partial();
const schemeSchema = z
  .string()
  .min(1)
  .superRefine((scheme, ctx) => {
    const problem = audienceSchemeProblem(scheme, false);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/**
 * One more issuer the services trust (AGENTMESH_OAUTH_TRUST_FILE's format,
 * docs/security.md), plus where workloads reach it. `jwksUrl` is required:
 * the sidecars fetch the keys from it. No `ca`: the services check its TLS
 * certificate against the public roots or the primary issuer's CA.
 */
export const trustedIssuerSchema = z
  .strictObject({
    issuer: z.url(),
    preset: z.enum(PRESET_NAMES).default('rfc9068'),
    audience: schemeSchema.default('service'),
    extraAudiences: z.array(z.string().min(1)).default([]),
    claims: claimsSchema.optional(),
    tokenType: z.string().optional(),
    algorithms: names.optional(),
    jwksUrl: z.url(),
    ...networkFields,
  })
  .superRefine(checkNetwork);

/** Fields of the render settings' `oauth` object that mirror the services' AGENTMESH_OAUTH_* settings. */
export const oauthFields = {
  /** AGENTMESH_OAUTH_PRESET: claim names, token `typ` and audience request of the issuer. */
  preset: z.enum(PRESET_NAMES).optional(),
  /** AGENTMESH_OAUTH_AUDIENCE: service, spiffe or a template (what each service accepts and callers ask for). */
  audience: schemeSchema.optional(),
  /** AGENTMESH_OAUTH_AUDIENCES: explicit audiences of some services, winning over the scheme. */
  audiences: z
    .record(
      serviceName,
      z
        .string()
        .min(1)
        .regex(/^[^,]+$/, 'must not contain ","'),
    )
    .optional(),
  /** AGENTMESH_OAUTH_EXTRA_AUDIENCES per service: more audiences it accepts (e.g. its Entra application id). */
  extraAudiences: z
    .record(
      serviceName,
      z.array(
        z
          .string()
          .min(1)
          .regex(/^[^,]+$/, 'must not contain ","'),
      ),
    )
    .optional(),
  /** AGENTMESH_OAUTH_REQUEST: how callers ask for an audience (default: the preset's). */
  request: z
    .array(z.enum(['audience', 'resource', 'default-scope', 'none']))
    .min(1)
    .optional(),
  /** AGENTMESH_OAUTH_SUBJECT_CLAIMS, _SCOPE_CLAIMS, _ROLE_CLAIMS, _CLIENT_ID_CLAIMS (default: the preset's). */
  claims: claimsSchema.optional(),
  /** AGENTMESH_OAUTH_TRUST_FILE: more issuers every service trusts, e.g. the enterprise IdP for people. */
  trustedIssuers: z
    .array(trustedIssuerSchema)
    .default([])
    .refine((list) => new Set(list.map((t) => t.issuer)).size === list.length, 'each issuer once'),
};

type OAuth = RenderConfig['oauth'];

/** Refuses a scheme callers could not ask for (RFC 8707 resources are absolute URIs). */
export function checkOAuth(
  o: { preset?: keyof typeof PRESETS; audience?: string; request?: AudienceRequest[] },
  ctx: z.RefinementCtx,
): void {
  const request = o.request ?? PRESETS[o.preset ?? 'agentmesh'].request;
  const problem = audienceSchemeProblem(o.audience ?? 'service', request.includes('resource'));
  if (problem) ctx.addIssue({ code: 'custom', path: ['audience'], message: problem });
}

/** The settings every workload reads (namespace ConfigMap), only those configured: defaults render nothing. */
export function oauthSettings(o: OAuth): Record<string, string> {
  const data: Record<string, string> = {};
  if (o.preset) data.AGENTMESH_OAUTH_PRESET = o.preset;
  if (o.audience) data.AGENTMESH_OAUTH_AUDIENCE = o.audience;
  if (o.audiences && Object.keys(o.audiences).length)
    data.AGENTMESH_OAUTH_AUDIENCES = Object.entries(o.audiences)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([service, audience]) => `${service}=${audience}`)
      .join(',');
  if (o.request) data.AGENTMESH_OAUTH_REQUEST = o.request.join(',');
  if (o.tokenType) data.AGENTMESH_OAUTH_TOKEN_TYPE = o.tokenType;
  const claimVars = {
    subject: 'AGENTMESH_OAUTH_SUBJECT_CLAIMS',
    scopes: 'AGENTMESH_OAUTH_SCOPE_CLAIMS',
    roles: 'AGENTMESH_OAUTH_ROLE_CLAIMS',
    clientId: 'AGENTMESH_OAUTH_CLIENT_ID_CLAIMS',
  } as const;
  for (const [key, variable] of Object.entries(claimVars)) {
    const list = o.claims?.[key as keyof typeof claimVars];
    if (list) data[variable] = list.join(',');
  }
  if (o.trustedIssuers.length) data.AGENTMESH_OAUTH_TRUST_FILE = `${TRUST_DIR}/trust.json`;
  return data;
}

/** The trust file of AGENTMESH_OAUTH_TRUST_FILE (without the render's network fields). */
export function trustFile(o: OAuth): string {
  const issuers = o.trustedIssuers.map(
    ({ namespace: _n, podLabels: _p, cidrs: _c, except: _e, ports: _ports, ...entry }) => entry,
  );
  return `${JSON.stringify({ issuers }, null, 2)}\n`;
}

/** The ConfigMap with the trust file, or none without trusted issuers. */
export function trustConfigMap(o: OAuth, namespace: string): Manifest[] {
  if (!o.trustedIssuers.length) return [];
  return [
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: TRUST_CONFIGMAP, namespace },
      data: { 'trust.json': trustFile(o) },
    } satisfies IConfigMap,
  ];
}

/** The volume and mount of the trust file, for every workload when issuers are trusted. */
export function trustVolume(o: OAuth): {
  volumes: { name: string; configMap: { name: string } }[];
  volumeMounts: { name: string; mountPath: string; readOnly: boolean }[];
} {
  if (!o.trustedIssuers.length) return { volumes: [], volumeMounts: [] };
  return {
    volumes: [{ name: 'oauth-trust', configMap: { name: TRUST_CONFIGMAP } }],
    volumeMounts: [{ name: 'oauth-trust', mountPath: TRUST_DIR, readOnly: true }],
  };
}

/** The audiences a service accepts from the primary issuer: its own under the scheme, then its extras. */
export function primaryAudiences(o: OAuth, trustDomain: string, service: string): string[] {
  const own = audienceScheme(o.audience ?? 'service', trustDomain, o.audiences ?? {})(service);
  return [...new Set([own, ...(o.extraAudiences?.[service] ?? [])])];
}

/** The per-workload variable of a service's extra audiences, when it has any. */
export function extraAudiencesEnv(o: OAuth, service: string): IEnvVar[] {
  const extra = o.extraAudiences?.[service];
  return extra?.length ? [{ name: 'AGENTMESH_OAUTH_EXTRA_AUDIENCES', value: extra.join(',') }] : [];
}

/** One jwtRule per issuer a service trusts, each with the audiences the service accepts from it. */
export function jwtRules(o: OAuth, trustDomain: string, service: string, issuer: string, jwksUri: string) {
  return [
    { issuer, jwksUri, audiences: primaryAudiences(o, trustDomain, service), forwardOriginalToken: true },
    ...o.trustedIssuers.map((t) => ({
      issuer: t.issuer,
      jwksUri: t.jwksUrl,
      audiences: [...new Set([audienceScheme(t.audience, trustDomain)(service), ...t.extraAudiences])],
      forwardOriginalToken: true,
    })),
  ];
}

/** Egress to each trusted issuer (its metadata and keys), as for an external primary issuer. */
export function trustedIssuerEgress(o: OAuth): EgressRule[] {
  return o.trustedIssuers.map((t, i) => {
    const urls = [...new Set([t.issuer, t.jwksUrl])];
    return {
      name: `trusted-issuer-${i + 1}`,
      reason: `AGENTMESH_OAUTH_TRUST_FILE issuer: ${urls.join(' ')}`,
      podLabels: {},
      ...resolveNetwork(`oauth.trustedIssuers.${i}`, t, urls),
    };
  });
}

/** Checks that per-service settings name rendered services (a typo would silently change nothing). */
export function checkServicesNamed(o: OAuth, rendered: string[]): void {
  for (const [field, record] of [
    ['audiences', o.audiences],
    ['extraAudiences', o.extraAudiences],
  ] as const) {
    const unknown = Object.keys(record ?? {}).filter((s) => !rendered.includes(s));
    if (unknown.length)
      throw new Error(
        `oauth.${field}: ${unknown.join(', ')} is not a rendered service (rendered: ${rendered.join(', ')})`,
      );
  }
}
