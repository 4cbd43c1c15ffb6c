import { BlockList, isIP } from 'node:net';
import { z } from 'zod';
import { LLM_LABEL } from './constants.js';
import type { RenderConfig } from './render-config.js';

/** Kubernetes names: namespaces, label values NetworkPolicy selects by. */
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address, prefixText, extra] = text.split('/');
  const version = isIP(address ?? '');
  if (!version || extra !== undefined || !/^\d{1,3}$/.test(prefixText ?? '')) return undefined;
  const prefix = Number(prefixText);
  if (prefix > (version === 4 ? 32 : 128)) return undefined;
  return { address: address!, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** Whether CIDR `inner` lies within CIDR `outer` (NetworkPolicy requires `except` ranges inside their `cidr`). */
export function cidrContains(outer: string, inner: string): boolean {
  const o = parseCidr(outer);
  const i = parseCidr(inner);
  if (!o || !i || o.family !== i.family || i.prefix < o.prefix) return false;
  const block = new BlockList();
  block.addSubnet(o.address, o.prefix, o.family);
  return block.check(i.address, i.family);
}

const cidr = z
  .string()
  .refine((s) => parseCidr(s) !== undefined, 'must be a CIDR such as 10.0.0.0/16 or 2001:db8::/32');

/**
 * Where a NetworkPolicy egress rule lets workloads connect: the pods of an
 * in-cluster namespace (optionally only those with `podLabels`), or address
 * ranges outside the cluster (NetworkPolicy cannot name hosts). `ports` are
 * the destination pod's ports, which NetworkPolicy sees after the Service's
 * port mapping.
 */
export const networkFields = {
  namespace: z.string().regex(DNS_LABEL).optional(),
  podLabels: z.record(z.string(), z.string()).optional(),
  cidrs: z.array(cidr).min(1).optional(),
  except: z.array(cidr).optional(),
  ports: z.array(z.number().int().min(1).max(65535)).min(1).optional(),
};

/** A destination as configured (see networkFields). */
export type Network = {
  namespace?: string;
  podLabels?: Record<string, string>;
  cidrs?: string[];
  except?: string[];
  ports?: number[];
};

/** Refuses destinations NetworkPolicy cannot express, at load time. */
export function checkNetwork(n: Network, ctx: z.RefinementCtx): void {
  if (n.cidrs && (n.namespace || n.podLabels))
    ctx.addIssue({
      code: 'custom',
      message: 'give either namespace/podLabels (in the cluster) or cidrs (outside it), not both',
    });
  if (n.except && !n.cidrs) ctx.addIssue({ code: 'custom', path: ['except'], message: 'except only narrows cidrs' });
  for (const e of n.except ?? []) {
    if (n.cidrs && !n.cidrs.some((c) => cidrContains(c, e)))
      ctx.addIssue({ code: 'custom', path: ['except'], message: `${e} is not inside any of cidrs` });
  }
}

/** A peer of a NetworkPolicy rule (the subset rendered here). */
export type NetworkPeer =
  | {
      namespaceSelector: { matchLabels: Record<string, string> };
      podSelector?: { matchLabels: Record<string, string> };
    }
  | { ipBlock: { cidr: string; except?: string[] } };

/** Where an egress rule goes and why (for the rendered policy's annotation). */
export interface EgressRule {
  /** NetworkPolicy name suffix: allow-<name>. */
  name: string;
  /** What needs it, e.g. "VAULT_ADDR https://vault.vault.svc.cluster.local:8200". */
  reason: string;
  /** Pods of the namespace the rule applies to ({} = every pod). */
  podLabels: Record<string, string>;
  to: NetworkPeer[];
  ports: number[];
}

/** `<service>.<namespace>.svc[.cluster.local]`: the namespace a Kubernetes Service name lives in. */
export function clusterNamespaceOf(host: string): string | undefined {
  return /^[a-z0-9-]+\.([a-z0-9-]+)\.svc(\.cluster\.local)?\.?$/.exec(host)?.[1];
}

const defaultPort = (u: URL) => (u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80);

/**
 * The peers and ports of a destination reached at `urls` (none for a
 * database, whose URL is a secret): an in-cluster Service host yields its
 * namespace, an IP literal itself; any other host needs `cidrs`, since
 * NetworkPolicy cannot follow DNS. Throws naming `what` when the
 * configuration cannot allow what the URLs need.
 */
export function resolveNetwork(
  what: string,
  n: Network,
  urls: string[],
  fallbackPorts: number[] = [],
): { to: NetworkPeer[]; ports: number[] } {
  const parsed = urls.map((u) => new URL(u));
  const ports =
    n.ports ??
    [...new Set([...parsed.map(defaultPort), ...(parsed.length ? [] : fallbackPorts)])].sort((a, b) => a - b);
  if (!ports.length) throw new Error(`${what}: ports are required`);
  const hosts = [...new Set(parsed.map((u) => u.hostname.replace(/^\[(.*)\]$/, '$1')))];
  const namespaces = new Set(hosts.map(clusterNamespaceOf).filter((ns): ns is string => !!ns));
  if (n.cidrs) {
    if (namespaces.size)
      throw new Error(`${what}: ${hosts.join(', ')} is a Kubernetes Service; give its namespace instead of cidrs`);
    return {
      to: n.cidrs.map((c) => ({ ipBlock: { cidr: c, ...(n.except?.length ? { except: n.except } : {}) } })),
      ports,
    };
  }
  const ips = hosts.filter((h) => isIP(h));
  const external = hosts.filter((h) => !isIP(h) && !clusterNamespaceOf(h));
  if (external.length)
    throw new Error(
      `${what}: ${external.join(', ')} is outside the cluster; set ${what}.cidrs to the address ranges it resolves to (NetworkPolicy cannot name hosts)`,
    );
  const namespace = n.namespace ?? (namespaces.size === 1 ? [...namespaces][0] : undefined);
  if (n.namespace && namespaces.size && !namespaces.has(n.namespace))
    throw new Error(`${what}: namespace ${n.namespace} is not the one ${hosts.join(', ')} lives in`);
  if (namespaces.size > 1)
    throw new Error(`${what}: ${hosts.join(', ')} span several namespaces; give one destination per namespace`);
  const to: NetworkPeer[] = ips.map((ip) => ({ ipBlock: { cidr: `${ip}/${isIP(ip) === 4 ? 32 : 128}` } }));
  if (namespace) {
    to.push({
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
      ...(n.podLabels ? { podSelector: { matchLabels: n.podLabels } } : {}),
    });
  }
  if (n.podLabels && !namespace) throw new Error(`${what}: podLabels select pods of a namespace; give namespace`);
  if (!to.length) throw new Error(`${what}: give namespace or cidrs`);
  return { to, ports };
}

/** What a namespace's workloads need beyond the mesh's own paths. */
export interface EgressNeeds {
  /** The issuer's URLs when it runs outside the mesh (an enterprise IdP). */
  externalIssuerUrls?: string[];
  /** Whether agents of the namespace get the LLM endpoint. */
  llm: boolean;
}

/**
 * The egress rules of one namespace beyond DNS, istiod and the mesh ports:
 * Vault, the database, an external issuer, the LLM (agents only, by the
 * LLM_LABEL their pods carry) and the configured extras for this namespace.
 */
export function configuredEgress(config: RenderConfig, namespace: string, needs: EgressNeeds): EgressRule[] {
  const rules: EgressRule[] = [];
  const add = (
    name: string,
    reason: string,
    podLabels: Record<string, string>,
    target: { to: NetworkPeer[]; ports: number[] },
  ) => rules.push({ name, reason, podLabels, ...target });
  add('vault', `VAULT_ADDR ${config.vault.address}`, {}, resolveNetwork('vault', config.vault, [config.vault.address]));
  add(
    'database',
    'DATABASE_URL from the <name>-database Secrets (PostgreSQL, shared by the replicas of a stateful service)',
    {},
    resolveNetwork('database', config.database, [], [5432]),
  );
  if (needs.externalIssuerUrls)
    add(
      'oauth',
      `the issuer: ${needs.externalIssuerUrls.join(' ')}`,
      {},
      resolveNetwork('oauth', config.oauth, needs.externalIssuerUrls),
    );
  if (config.llm && needs.llm)
    add(
      'llm',
      `OPENAI_BASE_URL ${config.llm.baseUrl}`,
      { [LLM_LABEL]: 'true' },
      resolveNetwork('llm', config.llm, [config.llm.baseUrl]),
    );
  for (const e of config.egress) {
    if (!e.namespaces || e.namespaces.includes(namespace))
      add(`egress-${e.name}`, e.description || e.name, {}, resolveNetwork(`egress.${e.name}`, e, []));
  }
  return rules;
}
