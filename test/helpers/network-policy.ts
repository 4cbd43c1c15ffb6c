// Kubernetes NetworkPolicy semantics for the tests, over rendered objects:
// a pod is isolated in a direction once any policy selecting it names that
// direction, and then only what some rule of those policies allows passes.
// Only the fields istio/ uses are implemented; anything else throws, so a
// manifest using more is not checked wrongly.
import { BlockList, isIP } from 'node:net';
import type { KubeObject } from './kustomize.js';

/** A pod: its namespace (with the namespace's labels) and its own labels. */
export interface Pod {
  namespace: string;
  namespaceLabels: Record<string, string>;
  labels: Record<string, string>;
}

/** One end of a connection: a pod, or an address outside the cluster. */
export type Endpoint = { pod: Pod } | { ip: string };

type Selector = { matchLabels?: Record<string, string>; matchExpressions?: unknown };
type Peer = { namespaceSelector?: Selector; podSelector?: Selector; ipBlock?: { cidr: string; except?: string[] } };
type Rule = { to?: Peer[]; from?: Peer[]; ports?: { protocol?: string; port?: number | string; endPort?: number }[] };
type Spec = { podSelector: Selector; policyTypes?: ('Ingress' | 'Egress')[]; ingress?: Rule[]; egress?: Rule[] };

function selects(selector: Selector | undefined, labels: Record<string, string>): boolean {
  if (selector?.matchExpressions) throw new Error('matchExpressions are not supported by the test evaluator');
  return Object.entries(selector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}

function inCidr(ip: string, cidr: string): boolean {
  const [address, prefix] = cidr.split('/') as [string, string];
  const family = isIP(address) === 4 ? 'ipv4' : 'ipv6';
  if (isIP(ip) !== isIP(address)) return false;
  const block = new BlockList();
  block.addSubnet(address, Number(prefix), family);
  return block.check(ip, family);
}

function peerMatches(peer: Peer, other: Endpoint, policyNamespace: string): boolean {
  if (peer.ipBlock)
    return (
      'ip' in other &&
      inCidr(other.ip, peer.ipBlock.cidr) &&
      !(peer.ipBlock.except ?? []).some((e) => inCidr(other.ip, e))
    );
  if ('ip' in other) return false;
  const namespaceOk = peer.namespaceSelector
    ? selects(peer.namespaceSelector, other.pod.namespaceLabels)
    : other.pod.namespace === policyNamespace;
  return namespaceOk && (!peer.podSelector || selects(peer.podSelector, other.pod.labels));
}

function portMatches(rule: Rule, port: number, protocol: string): boolean {
  if (!rule.ports?.length) return true;
  return rule.ports.some((p) => {
    if (typeof p.port === 'string') throw new Error('named ports are not supported by the test evaluator');
    if ((p.protocol ?? 'TCP') !== protocol) return false;
    return p.port === undefined || p.port === port || (p.endPort !== undefined && port >= p.port && port <= p.endPort);
  });
}

/** Whether `pod`'s policies let the connection in `direction` with `other` on `port` pass. */
export function policyAllows(
  objects: KubeObject[],
  direction: 'Ingress' | 'Egress',
  pod: Pod,
  other: Endpoint,
  port: number,
  protocol = 'TCP',
): boolean {
  const applicable = objects
    .filter((o) => o.kind === 'NetworkPolicy' && o.metadata.namespace === pod.namespace)
    .map((o) => o.spec as Spec)
    .filter((spec) => selects(spec.podSelector, pod.labels) && (spec.policyTypes ?? ['Ingress']).includes(direction));
  if (!applicable.length) return true;
  const ns = pod.namespace;
  return applicable.some((spec) =>
    (direction === 'Egress' ? (spec.egress ?? []) : (spec.ingress ?? [])).some((rule) => {
      const peers = direction === 'Egress' ? rule.to : rule.from;
      return (!peers?.length || peers.some((p) => peerMatches(p, other, ns))) && portMatches(rule, port, protocol);
    }),
  );
}

/** Whether `from` can open a connection to `to` on `port`: egress allowed at the source and, for a pod, ingress at the destination. */
export function canConnect(objects: KubeObject[], from: Pod, to: Endpoint, port: number, protocol = 'TCP'): boolean {
  if (!policyAllows(objects, 'Egress', from, to, port, protocol)) return false;
  return 'ip' in to || policyAllows(objects, 'Ingress', to.pod, { pod: from }, port, protocol);
}
