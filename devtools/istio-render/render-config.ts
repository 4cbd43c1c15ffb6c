import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { checkNetwork, networkFields } from './egress.js';
import { checkOAuth, oauthFields } from './oauth.js';

/** Settings of the Istio rendering that are not in the services' own files (istio/render-config.json). */
export const renderConfigSchema = z.strictObject({
  /** Istio's trust domain (meshConfig.trustDomain) = the services' AGENTMESH_TRUST_DOMAIN. */
  trustDomain: z
    .string()
    .regex(/^[a-z0-9]([a-z0-9.-]{0,253}[a-z0-9])?$/)
    .default('agentmesh.local'),
  /** The one image every service runs (overlays pin the tag with kustomize `images`). */
  image: z.string().min(1).default('agentmesh'),
  /** The issuer services and RequestAuthentication trust; defaults to the in-cluster services/auth. */
  oauth: z
    .strictObject({
      issuer: z.url().optional(),
      /** Required with an external issuer (Istio fetches keys from it). */
      jwksUri: z.url().optional(),
      /** The token endpoint services get their own tokens from (with an external issuer; default: from its RFC 8414 metadata). */
      tokenUrl: z.url().optional(),
      /** Set for IdPs that do not emit `typ: at+jwt` (AGENTMESH_OAUTH_TOKEN_TYPE=none). */
      tokenType: z.string().optional(),
      /** Preset, audience scheme, explicit and extra audiences, request style, claims, trusted issuers (see oauth.ts). */
      ...oauthFields,
      /** Where workloads reach an external issuer (its namespace, or cidrs outside the cluster); the ports come from its URLs. */
      ...networkFields,
    })
    .superRefine(checkNetwork)
    .superRefine(checkOAuth)
    .prefault({}),
  vault: z
    .strictObject({
      address: z.url().default('https://vault.vault.svc.cluster.local:8200'),
      kvMount: z.string().default('secret'),
      /** Mount of Vault's Kubernetes auth method. */
      authMount: z.string().default('kubernetes'),
      /** Audience of the projected service-account token Vault's role expects. */
      tokenAudience: z.string().default('vault'),
      /** Where NetworkPolicy lets workloads reach Vault: by default the namespace and port of its address. */
      ...networkFields,
    })
    .superRefine(checkNetwork)
    .default({
      address: 'https://vault.vault.svc.cluster.local:8200',
      kvMount: 'secret',
      authMount: 'kubernetes',
      tokenAudience: 'vault',
    }),
  /**
   * Where the PostgreSQL of the `<name>-database` Secrets runs (the URL is a
   * secret, so NetworkPolicy cannot be derived from it): needed as soon as a
   * stateful service runs more than one replica.
   */
  database: z
    .strictObject({ ...networkFields })
    .superRefine(checkNetwork)
    .default({ namespace: 'database', ports: [5432] }),
  /**
   * The OpenAI-compatible endpoint agents plan with. When set, agents get
   * OPENAI_BASE_URL, OPENAI_API_KEY from their optional `<name>-llm` Secret
   * (key `api-key`; without it they keep their playbooks), and egress to it.
   */
  llm: z
    .strictObject({ baseUrl: z.url(), ...networkFields })
    .superRefine(checkNetwork)
    .optional(),
  /** More destinations workloads may reach (an OTLP collector, an API a tool wraps...), in `namespaces` (default: every one). */
  egress: z
    .array(
      z
        .strictObject({
          name: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$/),
          /** What it is for, kept in the rendered policy's annotation. */
          description: z.string().default(''),
          /** The mesh namespaces whose workloads may connect (default: all). */
          namespaces: z.array(z.string()).min(1).optional(),
          ...networkFields,
          ports: networkFields.ports.unwrap(),
        })
        .superRefine(checkNetwork),
    )
    .default([])
    .refine((list) => new Set(list.map((e) => e.name)).size === list.length, 'egress names must be unique'),
  /**
   * Callers that policies name but that are not rendered here: the agentmesh CLI
   * and console run elsewhere (a workstation through a gateway, another cluster)
   * under these service names. Listed so a typo in a policy is still caught.
   */
  externalClients: z
    .array(z.string().regex(/^[a-z0-9-]+\/[a-z0-9-]+$/))
    .default(['agentmesh/cli', 'agentmesh/console']),
  /** Namespace whose Prometheus may scrape metrics: the sidecars' merged ones (15020) and the app's admin port (GET /metrics, with a mesh identity). */
  monitoringNamespace: z.string().default('monitoring'),
});

/** Parsed render settings. */
export type RenderConfig = z.infer<typeof renderConfigSchema>;

/** Reads istio/render-config.json (every field has a default). */
export function loadRenderConfig(file: string): RenderConfig {
  const result = renderConfigSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`invalid ${file} at ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return result.data;
}
