import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** Settings of the Istio rendering that are not in the services' own files (istio/render-config.json). */
export const renderConfigSchema = z.object({
  /** Istio's trust domain (meshConfig.trustDomain) = the services' AGENTMESH_TRUST_DOMAIN. */
  trustDomain: z.string().regex(/^[a-z0-9]([a-z0-9.-]{0,253}[a-z0-9])?$/).default('agentmesh.local'),
  /** The one image every service runs (overlays pin the tag with kustomize `images`). */
  image: z.string().min(1).default('agentmesh'),
  /** The issuer services and RequestAuthentication trust; defaults to the in-cluster services/auth. */
  oauth: z
    .object({
      issuer: z.url().optional(),
      /** Required with an external issuer (Istio fetches keys from it). */
      jwksUri: z.url().optional(),
      /** The token endpoint services get their own tokens from (with an external issuer; default: from its RFC 8414 metadata). */
      tokenUrl: z.url().optional(),
      /** Set for IdPs that do not emit `typ: at+jwt` (AGENTMESH_OAUTH_TOKEN_TYPE=none). */
      tokenType: z.string().optional(),
    })
    .default({}),
  vault: z
    .object({
      address: z.url().default('https://vault.vault.svc.cluster.local:8200'),
      /** Namespace and port NetworkPolicy lets workloads reach Vault at. */
      namespace: z.string().default('vault'),
      port: z.number().int().min(1).max(65535).default(8200),
      kvMount: z.string().default('secret'),
      /** Mount of Vault's Kubernetes auth method. */
      authMount: z.string().default('kubernetes'),
      /** Audience of the projected service-account token Vault's role expects. */
      tokenAudience: z.string().default('vault'),
    })
    .default({ address: 'https://vault.vault.svc.cluster.local:8200', namespace: 'vault', port: 8200, kvMount: 'secret', authMount: 'kubernetes', tokenAudience: 'vault' }),
  /**
   * Callers that policies name but that are not rendered here: the agentmesh CLI
   * and console run elsewhere (a workstation through a gateway, another cluster)
   * under these service names. Listed so a typo in a policy is still caught.
   */
  externalClients: z.array(z.string().regex(/^[a-z0-9-]+\/[a-z0-9-]+$/)).default(['agentmesh/cli', 'agentmesh/console']),
  /** Namespace whose Prometheus may scrape the sidecars' merged metrics (port 15020). */
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
