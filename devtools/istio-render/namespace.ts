import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import type { IAuthorizationPolicy } from '@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy';
import type { IPeerAuthentication } from '@kubernetes-models/istio/security.istio.io/v1beta1/PeerAuthentication';
import { ISTIO_AGENT_PORT, MESH_LABEL, SETTINGS_CONFIGMAP, type Manifest } from './constants.js';
import type { EgressRule } from './egress.js';

/** The Namespace, with sidecar injection on and the mesh label NetworkPolicy peers are selected by. */
export function namespace(name: string): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { 'istio-injection': 'enabled', [MESH_LABEL]: 'true' } },
  } satisfies INamespace;
}

/** The settings every workload of the namespace reads through envFrom (overlays patch this one object). */
export function settings(name: string, data: Record<string, string>): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: SETTINGS_CONFIGMAP, namespace: name },
    data,
  } satisfies IConfigMap;
}

/** STRICT mTLS for every workload of the namespace: plaintext from outside the mesh is refused by the sidecars. */
export function peerAuthentication(name: string): Manifest {
  return {
    apiVersion: 'security.istio.io/v1beta1',
    kind: 'PeerAuthentication',
    metadata: { name: 'default', namespace: name },
    spec: { mtls: { mode: 'STRICT' as const } },
  } satisfies IPeerAuthentication;
}

/** Istio's allow-nothing policy: a workload without an ALLOW policy of its own accepts no request. */
export function allowNothing(name: string): Manifest {
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'allow-nothing', namespace: name },
    spec: {},
  } satisfies IAuthorizationPolicy;
}

const byName = (ns: string) => ({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } });

/**
 * Default deny in both directions, then only the paths workloads need: DNS,
 * the sidecar to istiod, workloads to mesh services on their service ports,
 * the configured destinations (Vault, the database, an external issuer, the
 * LLM, extras; see configuredEgress), and Prometheus to the sidecars' merged
 * metrics (the app's admin port is opened per workload, see workloadNetworkPolicy).
 */
export function networkPolicies(
  name: string,
  monitoringNamespace: string,
  meshPorts: number[],
  egress: EgressRule[],
): Manifest[] {
  const np = (
    policyName: string,
    spec: Omit<NonNullable<INetworkPolicy['spec']>, 'podSelector'>,
    podLabels: Record<string, string> = {},
    reason?: string,
  ): Manifest =>
    ({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: {
        name: policyName,
        namespace: name,
        ...(reason ? { annotations: { 'agentmesh.dev/for': reason } } : {}),
      },
      spec: { podSelector: Object.keys(podLabels).length ? { matchLabels: podLabels } : {}, ...spec },
    }) satisfies INetworkPolicy;
  return [
    np('default-deny', { policyTypes: ['Ingress', 'Egress'] }),
    np('allow-dns', {
      policyTypes: ['Egress'],
      egress: [
        {
          to: [{ ...byName('kube-system'), podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
      ],
    }),
    np('allow-istiod', {
      policyTypes: ['Egress'],
      egress: [
        {
          to: [{ ...byName('istio-system'), podSelector: { matchLabels: { app: 'istiod' } } }],
          ports: [{ protocol: 'TCP', port: 15012 }],
        },
      ],
    }),
    np('allow-mesh-egress', {
      policyTypes: ['Egress'],
      egress: [
        {
          to: [{ namespaceSelector: { matchLabels: { [MESH_LABEL]: 'true' } } }],
          ports: meshPorts.map((port) => ({ protocol: 'TCP', port })),
        },
      ],
    }),
    ...egress.map((e) =>
      np(
        `allow-${e.name}`,
        { policyTypes: ['Egress'], egress: [{ to: e.to, ports: e.ports.map((port) => ({ protocol: 'TCP', port })) }] },
        e.podLabels,
        e.reason,
      ),
    ),
    np('allow-metrics-scrape', {
      policyTypes: ['Ingress'],
      ingress: [{ from: [byName(monitoringNamespace)], ports: [{ protocol: 'TCP', port: ISTIO_AGENT_PORT }] }],
    }),
  ];
}
