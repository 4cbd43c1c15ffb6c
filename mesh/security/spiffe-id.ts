import { Code, MeshError } from '../core/index.js';

/** A parsed workload identity, Istio's format: spiffe://<trust-domain>/ns/<namespace>/sa/<service>. */
export interface SpiffeId {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
  /** The URI form. */
  uri: string;
}

// DNS-label-like segments keep IDs valid both as SPIFFE IDs and as Kubernetes names.
const SEGMENT = '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?';
const TRUST_DOMAIN = '[a-z0-9]([a-z0-9.-]{0,253}[a-z0-9])?';
const SPIFFE_RE = new RegExp(`^spiffe://(${TRUST_DOMAIN})/ns/(${SEGMENT})/sa/(${SEGMENT})$`);

/** Builds the SPIFFE ID of a workload. */
export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  const uri = `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
  if (!SPIFFE_RE.test(uri)) throw new MeshError(Code.INVALID_ARGUMENT, `not a valid workload identity: ${uri}`);
  return uri;
}

/** Parses a SPIFFE ID in Istio's format; undefined when it is not one. */
export function parseSpiffeId(uri: string): SpiffeId | undefined {
  const m = SPIFFE_RE.exec(uri);
  if (!m) return undefined;
  return { trustDomain: m[1]!, namespace: m[3]!, serviceAccount: m[5]!, uri };
}

/**
 * The SPIFFE ID of a service named "namespace/name": the name's namespace and
 * the service name as service account.
 */
export function spiffeIdOfService(trustDomain: string, serviceName: string): string {
  const [namespace, name, ...rest] = serviceName.split('/');
  if (!namespace || !name || rest.length)
    throw new MeshError(Code.INVALID_ARGUMENT, `service name must be namespace/name: ${serviceName}`);
  return spiffeId(trustDomain, namespace, name);
}

/**
 * Matches a SPIFFE ID against a pattern where `*` stands for one whole path
 * segment or trust domain (e.g. spiffe://agentmesh.local/ns/lending/sa/*),
 * and a lone "*" for any identity. Linear: no regular expression is built
 * from the pattern.
 */
export function matchesSpiffePattern(pattern: string, id: string): boolean {
  if (pattern === '*') return true;
  const p = pattern.split('/');
  const s = id.split('/');
  if (p.length !== s.length) return false;
  return p.every((segment, i) => segment === '*' || segment === s[i]);
}
