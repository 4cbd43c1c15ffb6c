import { parseSpiffeId } from '../../mesh/index.js';

/**
 * How one caller pattern of a service policy is expressed in an Istio
 * AuthorizationPolicy rule: `principals` go in `from.source.principals`,
 * `when` (if any) is ANDed with them.
 */
export interface IstioCaller {
  principals: string[];
  when?: { key: 'source.principal'; values: string[] }[];
  /** Whether the Istio form admits exactly what the service admits (see translateCaller). */
  exact: boolean;
  /** Why the form is narrower, when it is. */
  note?: string;
}

const SEGMENT = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Translates a SPIFFE caller pattern (after `{trust_domain}` substitution)
 * into Istio principals, which only know exact, `prefix*`, `*suffix` and `*`.
 *
 * Both enforcement points only ever see identities of the form
 * `spiffe://<trust-domain>/ns/<ns>/sa/<sa>` with DNS-label segments from the
 * mesh's own trust domain: the service's transport refuses any other peer
 * identity (mesh/security/transport.ts), and istiod issues no other. Over
 * that set, with T the trust domain, N a namespace and S a service account:
 *
 * | policy caller                  | Istio                                                     |
 * |--------------------------------|-----------------------------------------------------------|
 * | `spiffe://T/ns/N/sa/S`         | principal `T/ns/N/sa/S`                                   |
 * | `spiffe://T/ns/N/sa/*`         | principal `T/ns/N/sa/*`                                   |
 * | `spiffe://T/ns/*\/sa/*`, `*`   | principal `T/ns/*`                                        |
 * | `spiffe://T/ns/*\/sa/S`        | principal `T/ns/*` AND `source.principal` `*\/sa/S`       |
 * | `spiffe://*\/ns/...`           | as above with T = the mesh's own trust domain             |
 *
 * All of these are exact over valid identities. A pattern that matches no
 * valid identity (a foreign trust domain, another shape, a segment such as
 * `agent-*`, which the service matches literally) yields no principal at all:
 * an Istio `*` there would widen it.
 */
export function translateCaller(pattern: string, trustDomain: string): IstioCaller {
  const none = (note: string): IstioCaller => ({ principals: [], exact: false, note });
  if (pattern === '*') return { principals: [`${trustDomain}/ns/*`], exact: true };
  const m = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(pattern);
  if (!m)
    return none(
      `${pattern} is not of the form spiffe://<trust-domain>/ns/<namespace>/sa/<account>: it matches no workload`,
    );
  const [, td, ns, sa] = m as unknown as [string, string, string, string];
  if (td !== '*' && td !== trustDomain)
    return none(`${pattern} names trust domain ${td}; services accept only ${trustDomain}`);
  for (const segment of [ns, sa]) {
    if (segment !== '*' && !SEGMENT.test(segment))
      return none(`${pattern}: segment "${segment}" can never be a namespace or account name`);
  }
  if (ns !== '*' && sa !== '*') {
    const id = `spiffe://${trustDomain}/ns/${ns}/sa/${sa}`;
    if (!parseSpiffeId(id)) return none(`${pattern} is not a valid workload identity`);
    return { principals: [`${trustDomain}/ns/${ns}/sa/${sa}`], exact: true };
  }
  if (ns !== '*') return { principals: [`${trustDomain}/ns/${ns}/sa/*`], exact: true };
  if (sa === '*') return { principals: [`${trustDomain}/ns/*`], exact: true };
  return {
    principals: [`${trustDomain}/ns/*`],
    when: [{ key: 'source.principal', values: [`*/sa/${sa}`] }],
    exact: true,
  };
}

/**
 * Decides whether an Istio principal form admits a concrete identity
 * (`T/ns/N/sa/S`, without the spiffe:// scheme), with Istio's string rules.
 * Used by the tests to compare both enforcement points.
 */
export function istioMatches(form: string, principal: string): boolean {
  if (form === '*') return principal.length > 0;
  if (form.endsWith('*')) return principal.startsWith(form.slice(0, -1));
  if (form.startsWith('*')) return principal.endsWith(form.slice(1));
  return form === principal;
}

/** Whether an IstioCaller admits a SPIFFE ID (both its principals and its conditions). */
export function istioAdmits(caller: IstioCaller, spiffeId: string): boolean {
  const principal = spiffeId.replace(/^spiffe:\/\//, '');
  return (
    caller.principals.some((p) => istioMatches(p, principal)) &&
    (caller.when ?? []).every((c) => c.values.some((v) => istioMatches(v, principal)))
  );
}
