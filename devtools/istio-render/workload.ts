// Type-only imports: the literals below are checked against the Kubernetes and
// Istio API types at typecheck time (unknown fields included); nothing is loaded at run time.
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { IRequestAuthentication } from '@kubernetes-models/istio/security.istio.io/v1/RequestAuthentication';
import {
  A2A_CARD_PORT,
  A2A_CARD_PORT_NAME,
  ADMIN_PORT,
  APP_DIR,
  APP_UID,
  AUTH_PORT,
  DATA_DIR,
  GRPC_PORT,
  LLM_LABEL,
  MCP_PORT,
  MCP_PORT_NAME,
  MESH_LABEL,
  METRICS_PATH,
  PRESTOP_DRAIN_S,
  serviceHost,
  SETTINGS_CONFIGMAP,
  STATEFUL_LABEL,
  TERMINATION_GRACE_S,
  VAULT_TOKEN_DIR,
  VERSIONS,
  type Manifest,
} from './constants.js';
import { extraAudiencesEnv, jwtRules, trustVolume } from './oauth.js';
import type { RenderConfig } from './render-config.js';
import type { DeployableService } from './service-discovery.js';

/** The Vault role of a workload under Vault's Kubernetes auth (bound to its ServiceAccount and namespace). */
export const vaultRole = (s: Pick<DeployableService, 'namespace' | 'account'>) =>
  `agentmesh-${s.namespace}-${s.account}`;

/** Agents live under services/agents/ (the layout `agentmesh new agent` keeps): they are the ones that plan with an LLM. */
export const isAgent = (s: Pick<DeployableService, 'path'>) => s.path.startsWith('agents/');

/** The ServiceAccount: the `sa` of the workload's SPIFFE identity. No automounted API token: the app never calls the API server. */
export function serviceAccount(s: DeployableService): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: {
      name: s.account,
      namespace: s.namespace,
      labels: { app: s.account },
      annotations: { 'agentmesh.dev/service': s.name },
    },
    automountServiceAccountToken: false,
  } satisfies IServiceAccount;
}

/** An agent's A2A card port on its Service: plain HTTP from the app, mTLS by the sidecars. */
const cardServicePort = {
  name: A2A_CARD_PORT_NAME,
  port: A2A_CARD_PORT,
  targetPort: A2A_CARD_PORT_NAME,
  appProtocol: 'http',
  protocol: 'TCP' as const,
};

/** A tool service's MCP port on its Service: plain HTTP from the app, mTLS by the sidecars. */
const mcpServicePort = {
  name: MCP_PORT_NAME,
  port: MCP_PORT,
  targetPort: MCP_PORT_NAME,
  appProtocol: 'http',
  protocol: 'TCP' as const,
};

/** The Kubernetes Service: the API port (and an agent's A2A card port, a tool service's MCP port), named and typed for Istio's protocol selection. */
export function kubeService(s: DeployableService): Manifest {
  const port =
    s.kind === 'grpc'
      ? { name: 'grpc-api', port: GRPC_PORT, targetPort: 'grpc-api', appProtocol: 'grpc', protocol: 'TCP' as const }
      : {
          name: 'http-oauth',
          port: AUTH_PORT,
          targetPort: 'http-oauth',
          appProtocol: 'http',
          protocol: 'TCP' as const,
        };
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: s.account, namespace: s.namespace, labels: { app: s.account } },
    spec: {
      selector: { app: s.account },
      ports: [port, ...(isAgent(s) ? [cardServicePort] : []), ...(s.mcp ? [mcpServicePort] : [])],
    },
  } satisfies IService;
}

/** Restricted pod security: non-root, read-only root filesystem, no capabilities, the runtime's seccomp profile. */
const podSecurity = {
  runAsNonRoot: true,
  runAsUser: APP_UID,
  runAsGroup: APP_UID,
  fsGroup: APP_UID,
  seccompProfile: { type: 'RuntimeDefault' as const },
};
const containerSecurity = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' as const },
};

/** The Deployment of version v1 (a canary overlay adds `<name>-v2` with the v2 label). */
export function deployment(s: DeployableService, config: RenderConfig, issuer: string | undefined): Manifest {
  const version = VERSIONS[0];
  const labels = { app: s.account, version };
  const grpc = s.kind === 'grpc';
  const llm = grpc && isAgent(s) && config.llm !== undefined;
  const env: IEnvVar[] = [
    // First, at a fixed place: an overlay with replicas makes the Secret required by index (istio/overlays/prod).
    // Optional here: one replica may keep SQLite on its own volume; several must share PostgreSQL.
    ...(grpc
      ? [
          {
            name: 'DATABASE_URL',
            valueFrom: { secretKeyRef: { name: `${s.account}-database`, key: 'url', optional: true } },
          },
        ]
      : []),
    { name: 'OTEL_SERVICE_NAME', value: s.name },
    { name: 'VAULT_K8S_ROLE', value: vaultRole(s) },
  ];
  if (grpc) {
    env.push(
      { name: 'AGENTMESH_POLICY_FILE', value: `${APP_DIR}/services/${s.path}/policy.json` },
      { name: 'AGENTMESH_ADVERTISE_ADDRESS', value: `${serviceHost(s.account, s.namespace)}:${GRPC_PORT}` },
      ...extraAudiencesEnv(config.oauth, s.name),
    );
    if (isAgent(s)) {
      // The card names the Service, as the gRPC address does; http: the sidecars do mTLS.
      env.push(
        { name: 'AGENTMESH_A2A_CARD_PORT', value: String(A2A_CARD_PORT) },
        { name: 'AGENTMESH_A2A_CARD_ORIGIN', value: `http://${serviceHost(s.account, s.namespace)}:${A2A_CARD_PORT}` },
      );
    }
    if (s.mcp) {
      // The resource identifier names the Service, as the gRPC address does; http: the sidecars do mTLS.
      env.push(
        { name: 'AGENTMESH_MCP_PORT', value: String(MCP_PORT) },
        { name: 'AGENTMESH_MCP_ORIGIN', value: `http://${serviceHost(s.account, s.namespace)}:${MCP_PORT}` },
      );
    }
    if (llm) {
      env.push(
        { name: 'OPENAI_BASE_URL', value: config.llm!.baseUrl },
        // Without the Secret the agent keeps its playbooks (AGENTMESH_PLANNER=auto plans with the LLM only when a key is set).
        {
          name: 'OPENAI_API_KEY',
          valueFrom: { secretKeyRef: { name: `${s.account}-llm`, key: 'api-key', optional: true } },
        },
      );
    }
  } else {
    env.push(
      { name: 'AGENTMESH_PORT', value: String(AUTH_PORT) },
      { name: 'AGENTMESH_AUTH_ISSUER', value: issuer },
      { name: 'AGENTMESH_AUTH_CLIENTS_FILE', value: '/etc/agentmesh/auth/clients.json' },
    );
  }
  const probe = (path: string, port: string, periodSeconds: number, failureThreshold: number) => ({
    httpGet: { path, port },
    periodSeconds,
    failureThreshold,
    timeoutSeconds: 2,
  });
  const probes = grpc
    ? {
        startupProbe: probe('/livez', 'http-admin', 2, 30),
        livenessProbe: probe('/livez', 'http-admin', 10, 3),
        readinessProbe: probe('/readyz', 'http-admin', 5, 2),
      }
    : {
        startupProbe: probe('/.well-known/oauth-authorization-server', 'http-oauth', 2, 30),
        livenessProbe: probe('/.well-known/oauth-authorization-server', 'http-oauth', 10, 3),
        readinessProbe: probe('/.well-known/oauth-authorization-server', 'http-oauth', 5, 2),
      };
  const ports = grpc
    ? [
        { name: 'grpc-api', containerPort: GRPC_PORT, protocol: 'TCP' as const },
        { name: 'http-admin', containerPort: ADMIN_PORT, protocol: 'TCP' as const },
        ...(isAgent(s) ? [{ name: A2A_CARD_PORT_NAME, containerPort: A2A_CARD_PORT, protocol: 'TCP' as const }] : []),
        ...(s.mcp ? [{ name: MCP_PORT_NAME, containerPort: MCP_PORT, protocol: 'TCP' as const }] : []),
      ]
    : [{ name: 'http-oauth', containerPort: AUTH_PORT, protocol: 'TCP' as const }];
  const trust = trustVolume(config.oauth);
  const volumeMounts = [
    { name: 'tmp', mountPath: '/tmp' },
    { name: 'data', mountPath: DATA_DIR },
    { name: 'vault-token', mountPath: VAULT_TOKEN_DIR, readOnly: true },
    { name: 'vault-ca', mountPath: '/etc/agentmesh/vault-ca', readOnly: true },
    ...(grpc ? [] : [{ name: 'auth-clients', mountPath: '/etc/agentmesh/auth', readOnly: true }]),
    ...trust.volumeMounts,
  ];
  const volumes = [
    { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } },
    { name: 'data', emptyDir: { sizeLimit: '1Gi' } },
    {
      name: 'vault-token',
      projected: {
        sources: [
          { serviceAccountToken: { path: 'token', audience: config.vault.tokenAudience, expirationSeconds: 3600 } },
        ],
      },
    },
    { name: 'vault-ca', configMap: { name: 'vault-ca', optional: true } },
    ...(grpc ? [] : [{ name: 'auth-clients', configMap: { name: 'auth-clients' } }]),
    ...trust.volumes,
  ];
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: `${s.account}-${version}`,
      namespace: s.namespace,
      labels: { ...labels, ...(grpc ? { [STATEFUL_LABEL]: 'true' } : {}) },
    },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: {
          labels: { ...labels, 'sidecar.istio.io/inject': 'true', ...(llm ? { [LLM_LABEL]: 'true' } : {}) },
          annotations: {
            // The app starts only once the sidecar is ready (its first calls go through it); the sidecar drains as long as the app does.
            'proxy.istio.io/config': JSON.stringify({
              holdApplicationUntilProxyStarts: true,
              terminationDrainDuration: `${TERMINATION_GRACE_S}s`,
            }),
            // The kubelet's probes go to the sidecar agent (15020), which calls the admin port on loopback:
            // plain HTTP probes to the app's port would be refused by STRICT mTLS.
            'sidecar.istio.io/rewriteAppHTTPProbers': 'true',
            // With Istio's metrics merging (on by default) the injector moves these into the agent, which
            // scrapes the app on loopback and serves both on 15020; without it Prometheus scrapes the
            // admin port itself, over mTLS (see the AuthorizationPolicy's metrics rule).
            ...(grpc
              ? {
                  'prometheus.io/scrape': 'true',
                  'prometheus.io/port': String(ADMIN_PORT),
                  'prometheus.io/path': METRICS_PATH,
                }
              : {}),
          },
        },
        spec: {
          serviceAccountName: s.account,
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: TERMINATION_GRACE_S,
          // Replicas on different nodes (required: losing one node never takes every replica) and, where
          // the cluster has zones, spread over them (preferred: a cluster in one zone still schedules).
          // Counted per rollout revision, so the pods of a rolling update do not block each other.
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: 'kubernetes.io/hostname',
              whenUnsatisfiable: 'DoNotSchedule',
              nodeTaintsPolicy: 'Honor',
              labelSelector: { matchLabels: labels },
              matchLabelKeys: ['pod-template-hash'],
            },
            {
              maxSkew: 1,
              topologyKey: 'topology.kubernetes.io/zone',
              whenUnsatisfiable: 'ScheduleAnyway',
              labelSelector: { matchLabels: labels },
              matchLabelKeys: ['pod-template-hash'],
            },
          ],
          securityContext: podSecurity,
          containers: [
            {
              name: 'app',
              image: config.image,
              imagePullPolicy: 'IfNotPresent',
              args: [s.path],
              envFrom: [{ configMapRef: { name: SETTINGS_CONFIGMAP } }],
              env,
              ports,
              ...probes,
              // The app gets SIGTERM only once callers' sidecars have stopped picking this pod (see PRESTOP_DRAIN_S);
              // its own shutdown (NOT_SERVING, drain) follows, all within terminationGracePeriodSeconds.
              lifecycle: { preStop: { sleep: { seconds: PRESTOP_DRAIN_S } } },
              resources: { requests: { cpu: '100m', memory: '192Mi' }, limits: { cpu: '1', memory: '512Mi' } },
              securityContext: containerSecurity,
              volumeMounts,
            },
          ],
          volumes,
        },
      },
    },
  } satisfies IDeployment;
}

/**
 * At most one pod of the service is evicted at a time by voluntary disruptions (node drains): with
 * two replicas one keeps serving; with one, a drain still proceeds. Pods that are not ready may always
 * be evicted, so a crash-looping replica never blocks a drain.
 */
export function disruptionBudget(s: DeployableService): Manifest {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: s.account, namespace: s.namespace },
    spec: {
      maxUnavailable: 1,
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
      selector: { matchLabels: { app: s.account } },
    },
  } satisfies IPodDisruptionBudget;
}

/**
 * Tokens from the issuer, or one of the trust file's, for this service's audiences under the
 * configured scheme, verified by the sidecar and passed on (the service verifies them again).
 */
export function requestAuthentication(
  s: DeployableService,
  config: RenderConfig,
  issuer: string,
  jwksUri: string,
): Manifest {
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'RequestAuthentication',
    metadata: { name: s.account, namespace: s.namespace },
    spec: {
      selector: { matchLabels: { app: s.account } },
      jwtRules: jwtRules(config.oauth, config.trustDomain, s.name, issuer, jwksUri),
    },
  } satisfies IRequestAuthentication;
}

/**
 * Ingress to the workload's service port (and an agent's A2A card port, a tool service's MCP port) only
 * from the namespaces its policy admits callers from (any mesh namespace for a namespace wildcard), and to
 * its admin port only from the monitoring namespace (Prometheus scraping the
 * app directly; merged metrics go through 15020, see allow-metrics-scrape).
 */
export function workloadNetworkPolicy(
  s: DeployableService,
  callerNamespaces: string[] | 'mesh',
  monitoringNamespace: string,
): Manifest {
  const from =
    callerNamespaces === 'mesh'
      ? [{ namespaceSelector: { matchLabels: { [MESH_LABEL]: 'true' } } }]
      : callerNamespaces.map((ns) => ({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } }));
  const ingress = from.length
    ? [
        {
          from,
          ports: [
            { protocol: 'TCP' as const, port: s.kind === 'grpc' ? GRPC_PORT : AUTH_PORT },
            ...(isAgent(s) ? [{ protocol: 'TCP' as const, port: A2A_CARD_PORT }] : []),
            ...(s.mcp ? [{ protocol: 'TCP' as const, port: MCP_PORT }] : []),
          ],
        },
      ]
    : [];
  if (s.kind === 'grpc') {
    ingress.push({
      from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': monitoringNamespace } } }],
      ports: [{ protocol: 'TCP', port: ADMIN_PORT }],
    });
  }
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: `${s.account}-ingress`, namespace: s.namespace },
    spec: { podSelector: { matchLabels: { app: s.account } }, policyTypes: ['Ingress'], ingress },
  } satisfies INetworkPolicy;
}
