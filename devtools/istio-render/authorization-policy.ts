import {
  AGENT_CARD_PATH,
  MCP_PATH,
  RESOURCE_METADATA_PATH,
  RESOURCE_METADATA_ROOT_PATH,
  type ServicePolicy,
} from '../../mesh/index.js';
import { ADMIN_PORT, METRICS_PATH, type Manifest } from './constants.js';
import { translateCaller } from './istio-principals.js';

/** Health and reflection stay open to every workload of the trust domain, as they are in the services themselves. */
export const OPEN_PATHS = [
  '/grpc.health.v1.Health/*',
  '/grpc.reflection.v1.ServerReflection/*',
  '/grpc.reflection.v1alpha.ServerReflection/*',
];

/** A policy method pattern as an Istio path: exact, or a prefix for "pkg.Service/*" and "*". */
export function istioPath(method: string): string {
  return method === '*' ? '/*' : `/${method}`;
}

/** What the rendering could not express exactly, for the manifest's annotations and the render log. */
export interface PolicyNotes {
  narrowed: string[];
}

type IstioRule = Record<string, unknown>;

/** Whether a policy method pattern names a ToolService method MCP calls are checked as (ListTools, InvokeTool). */
const coversToolService = (m: string) =>
  m === '*' ||
  m === 'agentmesh.v1.ToolService/*' ||
  m === 'agentmesh.v1.ToolService/ListTools' ||
  m === 'agentmesh.v1.ToolService/InvokeTool';

/**
 * The AuthorizationPolicy of one service, rendered from the policy the
 * service enforces itself: one ALLOW rule per policy rule and caller form
 * (see translateCaller), each also requiring a valid token from one of `issuers`
 * (the primary issuer, then those of the trust file);
 * everything else is denied (ALLOW semantics, plus the namespace's
 * allow-nothing policy). Scopes are not rendered: the service checks them
 * on every call (Istio cannot test one scope inside the space-separated
 * `scope` claim portably across versions).
 *
 * A last rule admits `GET /metrics` on the admin port from workloads of
 * `monitoringNamespace`: a Prometheus with a mesh identity scraping the app
 * directly (STRICT mTLS refuses one without). Nothing else of the admin port
 * is reachable through the sidecar: the kubelet's probes and the merged
 * metrics are fetched by the sidecar agent over loopback, which no
 * AuthorizationPolicy sees.
 *
 * With `cardPort` (agents), GET and HEAD of the public A2A card on that port
 * are open to every workload of the trust domain, without a token: the card
 * says how to get one (the extended card is a gRPC method, under the policy).
 *
 * With `mcpPort` (tool services serving MCP), a policy rule naming ToolService
 * methods also admits its callers' `POST /mcp` on that port, with or without a
 * token (the service maps tools/list and tools/call onto ListTools and
 * InvokeTool, checks the token and the rule itself, and answers a caller
 * without a token with the challenge an MCP client needs), and GET/HEAD of the RFC 9728 metadata is open to every workload of
 * the trust domain without a token: it says where to get one.
 */
export function authorizationPolicy(
  policy: ServicePolicy,
  target: { account: string; namespace: string; source: string },
  trustDomain: string,
  issuers: string[],
  monitoringNamespace: string,
  cardPort?: number,
  mcpPort?: number,
): { manifest: Manifest; notes: PolicyNotes } {
  const notes: PolicyNotes = { narrowed: [] };
  const requestPrincipals = issuers.map((issuer) => `${issuer}/*`);
  const rules: IstioRule[] = [
    { from: [{ source: { principals: [`${trustDomain}/ns/*`] } }], to: [{ operation: { paths: OPEN_PATHS } }] },
  ];
  for (const rule of policy.rules) {
    const to: IstioRule[] = [{ operation: { paths: [...new Set(rule.methods.map(istioPath))] } }];
    // POST /mcp asks for no token at the sidecar: the service checks it and answers a caller without one
    // with the RFC 9728 challenge (401) that tells an MCP client where to get one; the sidecar would answer 403.
    const mcpTo: IstioRule[] | undefined =
      mcpPort !== undefined && rule.methods.some(coversToolService)
        ? [{ operation: { ports: [String(mcpPort)], methods: ['POST'], paths: [MCP_PATH] } }]
        : undefined;
    const plain: string[] = [];
    const conditional: IstioRule[] = [];
    for (const caller of rule.callers) {
      const form = translateCaller(caller, trustDomain);
      if (form.note) notes.narrowed.push(`rule "${rule.description || rule.methods.join(',')}": ${form.note}`);
      if (form.principals.length === 0) continue;
      if (form.when) {
        conditional.push({
          from: [{ source: { principals: form.principals, requestPrincipals } }],
          to,
          when: form.when,
        });
        if (mcpTo)
          conditional.push({ from: [{ source: { principals: form.principals } }], to: mcpTo, when: form.when });
      } else plain.push(...form.principals);
    }
    if (plain.length) {
      const principals = [...new Set(plain)];
      rules.push({ from: [{ source: { principals, requestPrincipals } }], to });
      if (mcpTo) rules.push({ from: [{ source: { principals } }], to: mcpTo });
    }
    rules.push(...conditional);
  }
  if (cardPort !== undefined)
    rules.push({
      from: [{ source: { principals: [`${trustDomain}/ns/*`] } }],
      to: [{ operation: { ports: [String(cardPort)], methods: ['GET', 'HEAD'], paths: [AGENT_CARD_PATH] } }],
    });
  if (mcpPort !== undefined)
    rules.push({
      from: [{ source: { principals: [`${trustDomain}/ns/*`] } }],
      to: [
        {
          operation: {
            ports: [String(mcpPort)],
            methods: ['GET', 'HEAD'],
            paths: [RESOURCE_METADATA_PATH, RESOURCE_METADATA_ROOT_PATH],
          },
        },
      ],
    });
  rules.push({
    from: [{ source: { namespaces: [monitoringNamespace] } }],
    to: [{ operation: { ports: [String(ADMIN_PORT)], methods: ['GET'], paths: [METRICS_PATH] } }],
  });
  const annotations: Record<string, string> = {
    'agentmesh.dev/rendered-from': target.source,
    'agentmesh.dev/scopes': 'enforced by the service itself on every call',
  };
  if (notes.narrowed.length) annotations['agentmesh.dev/narrowed'] = notes.narrowed.join('\n');
  return {
    manifest: {
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: target.account, namespace: target.namespace, annotations },
      spec: { selector: { matchLabels: { app: target.account } }, action: 'ALLOW', rules },
    },
    notes,
  };
}

/** The authorization server's endpoints: open to every workload of the trust domain (clients still authenticate to it). */
export function authServerPolicy(account: string, namespace: string, trustDomain: string): Manifest {
  const from = [{ source: { principals: [`${trustDomain}/ns/*`] } }];
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: {
      name: account,
      namespace,
      annotations: { 'agentmesh.dev/rendered-from': 'services/auth (OAuth2 endpoints)' },
    },
    spec: {
      selector: { matchLabels: { app: account } },
      action: 'ALLOW',
      rules: [
        {
          from,
          to: [{ operation: { methods: ['GET'], paths: ['/.well-known/oauth-authorization-server', '/oauth2/jwks'] } }],
        },
        { from, to: [{ operation: { methods: ['POST'], paths: ['/oauth2/token'] } }] },
      ],
    },
  };
}
