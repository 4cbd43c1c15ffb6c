/** A Kubernetes object as rendered: plain data, serialised to YAML. */
export type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string } & Record<string, unknown>;
} & Record<string, unknown>;

/** Ports every workload uses in the cluster (the same in every pod, so NetworkPolicy can name them). */
export const GRPC_PORT = 50051;
export const ADMIN_PORT = 9090;
export const AUTH_PORT = 8080;
/**
 * Agents' public A2A card (/.well-known/agent-card.json, A2A §8.2): plain HTTP
 * from the app, mTLS by the sidecar, as the gRPC port. Named `http-a2a-card` for Istio's protocol selection.
 */
export const A2A_CARD_PORT = 8081;
export const A2A_CARD_PORT_NAME = 'http-a2a-card';
/**
 * Tool services' MCP endpoint (/mcp, Streamable HTTP; docs/mcp.md), for those with `"mcp": true` in
 * services/local-mesh.json: plain HTTP from the app, mTLS by the sidecar. Named `http-mcp`.
 */
export const MCP_PORT = 8082;
export const MCP_PORT_NAME = 'http-mcp';
/** The sidecar agent's port: merged Prometheus metrics (/stats/prometheus) and the rewritten kubelet probes (/app-health/...). */
export const ISTIO_AGENT_PORT = 15020;
/** Where the admin port serves Prometheus metrics (mesh/telemetry/admin-server.ts). */
export const METRICS_PATH = '/metrics';

/** Kernel defaults the mesh settings mirror (mesh/config/config.ts). */
export const DEFAULT_DEADLINE_MS = 10_000;
export const SHUTDOWN_GRACE_MS = 10_000;
/** NOT_SERVING time before new calls are refused, so endpoints are withdrawn before the listener closes. */
export const SHUTDOWN_DELAY_MS = 5_000;
/**
 * The preStop hook's wait before the app gets SIGTERM: the pod is already out of its
 * Service's endpoints, and this lets that news reach every caller's sidecar, so no new
 * call is sent to a process that has begun to shut down.
 */
export const PRESTOP_DRAIN_S = 5;
/** preStop wait + drain delay + grace + time for deregistration and closing stores. */
export const TERMINATION_GRACE_S = PRESTOP_DRAIN_S + Math.ceil((SHUTDOWN_DELAY_MS + SHUTDOWN_GRACE_MS) / 1000) + 5;
/**
 * Label of the Deployments that keep state (every gRPC service): an overlay running more
 * than one replica patches these to require their `<name>-database` Secret (see istio/overlays/prod).
 */
export const STATEFUL_LABEL = 'agentmesh.dev/stateful';

/** Version labels with a DestinationRule subset each; v1 is what base deploys, v2 the canary slot. */
export const VERSIONS = ['v1', 'v2'] as const;
/** Requests with this header go to the named version only (testing a canary before it gets traffic). */
export const VERSION_HEADER = 'x-agentmesh-version';

/** Label marking namespaces that hold mesh workloads (NetworkPolicy selects peers by it). */
export const MESH_LABEL = 'agentmesh.dev/mesh';
/** Label of the pods that get the LLM endpoint (agents, when render settings name one): NetworkPolicy lets only them reach it. */
export const LLM_LABEL = 'agentmesh.dev/llm';
/** Where the projected service-account token for Vault's Kubernetes auth is mounted. */
export const VAULT_TOKEN_DIR = '/var/run/secrets/vault';
export const DATA_DIR = '/var/lib/agentmesh';
/** The image's working directory (Dockerfile WORKDIR). */
export const APP_DIR = '/app';
/** The ConfigMap of settings every workload of a namespace reads (envFrom). */
export const SETTINGS_CONFIGMAP = 'agentmesh-settings';
/** UID/GID of the image's non-root user (Dockerfile USER). */
export const APP_UID = 10001;

/** The in-cluster address of a workload's Kubernetes Service. */
export const serviceHost = (account: string, namespace: string) => `${account}.${namespace}.svc.cluster.local`;
