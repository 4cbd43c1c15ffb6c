// Istio AuthorizationPolicy semantics for the tests, over rendered objects:
// with any ALLOW policy selecting a workload (allow-nothing included), a
// request passes only when some rule of one of them matches it. Only the
// fields istio/ renders are implemented; anything else throws.
import { istioMatches } from '../../devtools/istio-render/index.js';
import type { KubeObject } from './kustomize.js';

/** What the sidecar knows about a request: the mTLS peer (identity without spiffe://, namespace), the JWT's iss/sub, and the request. */
export interface IstioRequest {
  principal?: string;
  namespace?: string;
  requestPrincipal?: string;
  port: number;
  method: string;
  path: string;
}

type Source = { principals?: string[]; namespaces?: string[]; requestPrincipals?: string[] };
type Operation = { paths?: string[]; methods?: string[]; ports?: string[] };
type Rule = {
  from?: { source: Source }[];
  to?: { operation: Operation }[];
  when?: { key: string; values: string[] }[];
};

const KNOWN_SOURCE = new Set(['principals', 'namespaces', 'requestPrincipals']);
const KNOWN_OPERATION = new Set(['paths', 'methods', 'ports']);

const anyMatch = (forms: string[] | undefined, value: string | undefined) =>
  forms === undefined || (value !== undefined && forms.some((f) => istioMatches(f, value)));

function sourceMatches(s: Source, r: IstioRequest): boolean {
  for (const k of Object.keys(s))
    if (!KNOWN_SOURCE.has(k)) throw new Error(`source.${k} is not supported by the test evaluator`);
  return (
    anyMatch(s.principals, r.principal) &&
    anyMatch(s.namespaces, r.namespace) &&
    anyMatch(s.requestPrincipals, r.requestPrincipal)
  );
}

function operationMatches(o: Operation, r: IstioRequest): boolean {
  for (const k of Object.keys(o))
    if (!KNOWN_OPERATION.has(k)) throw new Error(`operation.${k} is not supported by the test evaluator`);
  return (
    anyMatch(o.paths, r.path) &&
    (o.methods === undefined || o.methods.includes(r.method)) &&
    (o.ports === undefined || o.ports.includes(String(r.port)))
  );
}

function ruleMatches(rule: Rule, r: IstioRequest): boolean {
  const when = (rule.when ?? []).every((c) => {
    if (c.key !== 'source.principal') throw new Error(`condition ${c.key} is not supported by the test evaluator`);
    return anyMatch(c.values, r.principal);
  });
  return (
    (!rule.from || rule.from.some((f) => sourceMatches(f.source, r))) &&
    (!rule.to || rule.to.some((t) => operationMatches(t.operation, r))) &&
    when
  );
}

/** Whether the sidecar of a workload (its namespace and pod labels) lets the request through. */
export function istioAllows(
  objects: KubeObject[],
  workload: { namespace: string; labels: Record<string, string> },
  request: IstioRequest,
): boolean {
  const policies = objects
    .filter((o) => o.kind === 'AuthorizationPolicy' && o.metadata.namespace === workload.namespace)
    .map(
      (o) => (o.spec ?? {}) as { selector?: { matchLabels: Record<string, string> }; action?: string; rules?: Rule[] },
    )
    .filter((p) => Object.entries(p.selector?.matchLabels ?? {}).every(([k, v]) => workload.labels[k] === v));
  for (const p of policies)
    if ((p.action ?? 'ALLOW') !== 'ALLOW') throw new Error(`action ${p.action} is not supported by the test evaluator`);
  if (!policies.length) return true;
  return policies.some((p) => (p.rules ?? []).some((rule) => ruleMatches(rule, request)));
}
