import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { stringify } from 'yaml';
import { planMesh } from '../launcher/mesh-plan.js';
import { authorizationPolicy, authServerPolicy, OPEN_PATHS } from './authorization-policy.js';
import {
  A2A_CARD_PORT,
  MCP_PORT,
  ADMIN_PORT,
  AUTH_PORT,
  DATA_DIR,
  DEFAULT_DEADLINE_MS,
  GRPC_PORT,
  serviceHost,
  SHUTDOWN_DELAY_MS,
  SHUTDOWN_GRACE_MS,
  VAULT_TOKEN_DIR,
  type Manifest,
} from './constants.js';
import { configuredEgress } from './egress.js';
import { grpcMethods, methodsMatching, type GrpcMethod } from './grpc-methods.js';
import { translateCaller } from './istio-principals.js';
import { allowNothing, namespace, networkPolicies, peerAuthentication, settings } from './namespace.js';
import { checkServicesNamed, oauthSettings, trustConfigMap, trustedIssuerEgress } from './oauth.js';
import type { RenderConfig } from './render-config.js';
import { discoverServices, type DeployableService } from './service-discovery.js';
import { destinationRule, virtualService } from './traffic.js';
import {
  deployment,
  disruptionBudget,
  isAgent,
  kubeService,
  requestAuthentication,
  serviceAccount,
  workloadNetworkPolicy,
} from './workload.js';

/** The rendered tree: paths relative to istio/base, and what could not be rendered exactly. */
export interface RenderedIstio {
  files: Map<string, string>;
  services: DeployableService[];
  notes: string[];
}

const HEADER = (source: string) =>
  `# Rendered by \`npm run render:istio\` from ${source}.\n# Do not edit: change the source and render again (a test fails while they differ).\n`;

function yamlDocs(source: string, manifests: Manifest[]): string {
  return (
    HEADER(source) + manifests.map((m) => stringify(m, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n')
  );
}

/** The namespaces a policy admits callers from, or 'mesh' when a namespace wildcard admits any. */
function callerNamespaces(s: DeployableService, trustDomain: string): string[] | 'mesh' {
  const namespaces = new Set<string>();
  for (const rule of s.policy!.rules) {
    for (const caller of rule.callers) {
      for (const principal of translateCaller(caller, trustDomain).principals) {
        const ns = /^[^/]+\/ns\/([^/*]+)\/sa\//.exec(principal)?.[1];
        if (!ns) return 'mesh';
        namespaces.add(ns);
      }
    }
  }
  return [...namespaces].sort();
}

/** The methods a service accepts: those its policy names, plus health and reflection, open to the mesh. */
function servedMethods(s: DeployableService, methods: GrpcMethod[]): GrpcMethod[] {
  const named = new Map<string, GrpcMethod>();
  const patterns = [...s.policy!.rules.flatMap((r) => r.methods), ...OPEN_PATHS.map((p) => p.slice(1))];
  for (const p of patterns) for (const m of methodsMatching(p, methods)) named.set(m.name, m);
  return [...named.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Renders istio/base from the tree at `root`: every services/**\/policy.json
 * (with its main.ts), the auth server, gen/descriptors.binpb for the methods,
 * and the render settings. Pure: writes nothing.
 */
export function renderIstio(root: string, config: RenderConfig): RenderedIstio {
  const all = discoverServices(join(root, 'services'), config.trustDomain);
  const methods = grpcMethods(join(root, 'gen', 'descriptors.binpb'));
  const localAuth = config.oauth.issuer ? undefined : all.find((s) => s.kind === 'oauth');
  const services = all.filter((s) => s.kind === 'grpc' || s === localAuth);
  const issuer =
    config.oauth.issuer ??
    (localAuth ? `http://${serviceHost(localAuth.account, localAuth.namespace)}:${AUTH_PORT}` : undefined);
  if (!issuer) throw new Error('no issuer: set oauth.issuer in the render settings, or keep services/auth');
  const jwksUri = config.oauth.jwksUri ?? (localAuth ? `${issuer}/oauth2/jwks` : undefined);
  if (!jwksUri) throw new Error('oauth.jwksUri is required with an external issuer (Istio fetches the keys from it)');
  const tokenUrl = config.oauth.tokenUrl ?? (localAuth ? `${issuer}/oauth2/token` : undefined);
  const registry = services.find((s) => s.name === 'agentmesh/registry');
  checkServicesNamed(
    config.oauth,
    services.map((s) => s.name),
  );
  const issuers = [issuer, ...config.oauth.trustedIssuers.map((t) => t.issuer)];
  if (new Set(issuers).size < issuers.length)
    throw new Error(`oauth.trustedIssuers: ${issuer} is the primary issuer already (each issuer once)`);

  const data: Record<string, string> = {
    AGENTMESH_TRANSPORT: 'istio',
    AGENTMESH_TRUST_DOMAIN: config.trustDomain,
    AGENTMESH_HOST: '0.0.0.0',
    AGENTMESH_PORT: String(GRPC_PORT),
    AGENTMESH_ADMIN_HOST: '0.0.0.0',
    AGENTMESH_ADMIN_PORT: String(ADMIN_PORT),
    AGENTMESH_LOG_LEVEL: 'info',
    AGENTMESH_SHUTDOWN_DELAY_MS: String(SHUTDOWN_DELAY_MS),
    AGENTMESH_SHUTDOWN_GRACE_MS: String(SHUTDOWN_GRACE_MS),
    AGENTMESH_DEFAULT_DEADLINE_MS: String(DEFAULT_DEADLINE_MS),
    AGENTMESH_DATA_DIR: DATA_DIR,
    AGENTMESH_OAUTH_ISSUER: issuer,
    AGENTMESH_OAUTH_JWKS_URL: jwksUri,
    ...(tokenUrl ? { AGENTMESH_OAUTH_TOKEN_URL: tokenUrl } : {}),
    ...oauthSettings(config.oauth),
    ...(registry
      ? { AGENTMESH_REGISTRY_ADDRESS: `${serviceHost(registry.account, registry.namespace)}:${GRPC_PORT}` }
      : {}),
    AGENTMESH_SECRETS: 'vault',
    VAULT_ADDR: config.vault.address,
    ...(config.vault.address.startsWith('https:') ? { VAULT_CACERT: '/etc/agentmesh/vault-ca/ca.crt' } : {}),
    VAULT_KV_MOUNT: config.vault.kvMount,
    VAULT_AUTH: 'kubernetes',
    VAULT_AUTH_MOUNT: config.vault.authMount,
    VAULT_K8S_JWT_PATH: `${VAULT_TOKEN_DIR}/token`,
  };
  const meshPorts = [
    ...new Set(
      services.flatMap((s) => [
        s.kind === 'grpc' ? GRPC_PORT : AUTH_PORT,
        ...(isAgent(s) ? [A2A_CARD_PORT] : []),
        ...(s.mcp ? [MCP_PORT] : []),
      ]),
    ),
  ].sort();
  const files = new Map<string, string>();
  const notes: string[] = [];
  const namespaces = [...new Set(services.map((s) => s.namespace))].sort();
  for (const e of config.egress) {
    const unknown = (e.namespaces ?? []).filter((ns) => !namespaces.includes(ns));
    if (unknown.length)
      throw new Error(
        `egress ${e.name}: namespaces ${unknown.join(', ')} hold no service (rendered: ${namespaces.join(', ')})`,
      );
  }
  const externalIssuerUrls = localAuth ? undefined : [...new Set([issuer, jwksUri, ...(tokenUrl ? [tokenUrl] : [])])];
  for (const ns of namespaces) {
    const egress = [
      ...configuredEgress(config, ns, {
        externalIssuerUrls,
        llm: services.some((s) => s.namespace === ns && s.kind === 'grpc' && isAgent(s)),
      }),
      ...trustedIssuerEgress(config.oauth),
    ];
    const manifests = [
      namespace(ns),
      settings(ns, data),
      ...trustConfigMap(config.oauth, ns),
      peerAuthentication(ns),
      allowNothing(ns),
      ...networkPolicies(ns, config.monitoringNamespace, meshPorts, egress),
    ];
    files.set(`${ns}/namespace.yaml`, yamlDocs('devtools/istio-render (namespace defaults)', manifests));
  }
  for (const s of services) {
    const common = [
      serviceAccount(s),
      kubeService(s),
      deployment(s, config, issuer),
      disruptionBudget(s),
      destinationRule(s.account, s.namespace),
    ];
    if (s.kind === 'oauth') {
      // The same registrations the local mesh uses: scopes by kind, audiences derived from the
      // policies (a workload gets tokens only for services that accept it), token exchange for agents.
      // Without policy_file: the repository path in a refusal is advice for a laptop, not for callers in a cluster.
      const planned = new Map(
        planMesh(root).clients.map(({ policy_file: _laptopOnly, ...c }) => [c.client_id, c] as const),
      );
      const clients = services
        .filter((c) => c.kind === 'grpc')
        .map(
          (c) =>
            planned.get(c.name) ?? {
              client_id: c.name,
              auth: { method: 'client_secret_basic', secret_path: `agentmesh/clients/${c.name}` },
              scopes: registry ? ['registry.register', 'registry.read'] : [],
              audiences: registry ? [registry.name] : [],
            },
        );
      const clientsMap: Manifest = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'auth-clients', namespace: s.namespace },
        data: { 'clients.json': `${JSON.stringify(clients, null, 2)}\n` },
      };
      const manifests = [
        ...common,
        virtualService(s.account, s.namespace, [], 'http'),
        authServerPolicy(s.account, s.namespace, config.trustDomain),
        workloadNetworkPolicy(s, 'mesh', config.monitoringNamespace),
        clientsMap,
      ];
      files.set(
        `${s.namespace}/${s.account}.yaml`,
        yamlDocs(`services/${s.path} (the authorization server)`, manifests),
      );
      continue;
    }
    const source = `services/${s.path}/policy.json`;
    const { manifest, notes: policyNotes } = authorizationPolicy(
      s.policy!,
      { account: s.account, namespace: s.namespace, source },
      config.trustDomain,
      issuers,
      config.monitoringNamespace,
      isAgent(s) ? A2A_CARD_PORT : undefined,
      s.mcp ? MCP_PORT : undefined,
    );
    notes.push(...policyNotes.narrowed.map((n) => `${source}: ${n}`));
    const manifests = [
      ...common,
      virtualService(s.account, s.namespace, servedMethods(s, methods), 'grpc'),
      requestAuthentication(s, config, issuer, jwksUri),
      manifest,
      workloadNetworkPolicy(s, callerNamespaces(s, config.trustDomain), config.monitoringNamespace),
    ];
    files.set(`${s.namespace}/${s.account}.yaml`, yamlDocs(source, manifests));
  }
  const resources = [...files.keys()].sort((a, b) =>
    a.endsWith('namespace.yaml') === b.endsWith('namespace.yaml')
      ? a.localeCompare(b)
      : a.endsWith('namespace.yaml')
        ? -1
        : 1,
  );
  files.set(
    'kustomization.yaml',
    HEADER('the services found under services/') +
      stringify(
        { apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources },
        { lineWidth: 0, aliasDuplicateObjects: false },
      ),
  );
  return { files, services, notes };
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(relative(dir, path));
    }
  };
  walk(dir);
  return out.sort();
}

/** Differences between a rendering and the files in `baseDir` (missing, stale, or not rendered). */
export function diffRendered(rendered: RenderedIstio, baseDir: string): string[] {
  const actual = listFiles(baseDir);
  const problems: string[] = [];
  for (const [path, content] of rendered.files) {
    const file = join(baseDir, path);
    if (!existsSync(file)) problems.push(`missing: ${path}`);
    else if (readFileSync(file, 'utf8') !== content) problems.push(`stale: ${path}`);
  }
  for (const path of actual) if (!rendered.files.has(path)) problems.push(`not rendered from the services: ${path}`);
  return problems;
}

/** Replaces `baseDir` with the rendering. */
export function writeRendered(rendered: RenderedIstio, baseDir: string): void {
  rmSync(baseDir, { recursive: true, force: true });
  for (const [path, content] of rendered.files) {
    const file = join(baseDir, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
}
