// NetworkPolicy against what the workloads do: every destination their
// environment names (Vault, the issuer, the registry, the LLM) and the
// database of their `<name>-database` Secret is reachable, the app's admin
// port only from the monitoring namespace, and nothing else — for the
// committed settings and for settings with everything outside the cluster.
import { isIP } from 'node:net';
import {
  clusterNamespaceOf,
  LLM_LABEL,
  renderConfigSchema,
  renderIstio,
  type RenderConfig,
} from '../devtools/istio-render/index.js';
import { builds, config, envOf, namespaceLabels, of, podOf, renderAndBuild, validate } from './helpers/istio-render.js';
import type { KubeObject } from './helpers/kustomize.js';
import { canConnect, type Endpoint, type Pod } from './helpers/network-policy.js';
import { ROOT } from './helpers/processes.js';

/** Variables naming a place the workload connects to. */
const DESTINATION_VARS = [
  'VAULT_ADDR',
  'AGENTMESH_OAUTH_ISSUER',
  'AGENTMESH_OAUTH_JWKS_URL',
  'AGENTMESH_OAUTH_TOKEN_URL',
  'AGENTMESH_REGISTRY_ADDRESS',
  'OPENAI_BASE_URL',
];
/** Variables naming the workload's own address. */
const OWN_ADDRESS_VARS = [
  'AGENTMESH_ADVERTISE_ADDRESS',
  'AGENTMESH_AUTH_ISSUER',
  'AGENTMESH_A2A_CARD_ORIGIN',
  'AGENTMESH_MCP_ORIGIN',
];
/** Variables whose URIs are names, not places: token audiences. */
const NAME_VARS = ['AGENTMESH_OAUTH_AUDIENCE', 'AGENTMESH_OAUTH_AUDIENCES', 'AGENTMESH_OAUTH_EXTRA_AUDIENCES'];
const looksLikeAddress = (v: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(v) || /^[^\s/:]+:\d+$/.test(v);

/** Where a URL or host:port leads: a pod (a rendered Service's, mapped to its target port) or an outside address. */
function destination(
  value: string,
  objects: KubeObject[],
  dns: Record<string, string>,
): { to: Endpoint; port: number } | string {
  const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `grpc://${value}`);
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  const namespace = clusterNamespaceOf(url.hostname);
  if (!namespace) {
    const ip = isIP(url.hostname) ? url.hostname : dns[url.hostname];
    return ip ? { to: { ip }, port } : `${url.hostname} has no address in the test's DNS`;
  }
  const name = url.hostname.split('.')[0]!;
  const svc = of('Service', objects).find((s) => s.metadata.namespace === namespace && s.metadata.name === name);
  if (!svc)
    return { to: { pod: { namespace, namespaceLabels: namespaceLabels(namespace, objects), labels: {} } }, port };
  const target = of('Deployment', objects).find(
    (d) =>
      d.metadata.namespace === namespace &&
      Object.entries(svc.spec.selector).every(([k, v]) => d.spec.template.metadata.labels[k] === v),
  );
  if (!target) return `Service ${namespace}/${name} selects no pod`;
  const servicePort = svc.spec.ports.find((p: any) => p.port === port);
  if (!servicePort) return `Service ${namespace}/${name} has no port ${port}`;
  const containerPort = target.spec.template.spec.containers[0].ports.find(
    (p: any) => p.name === servicePort.targetPort || p.containerPort === servicePort.targetPort,
  );
  return { to: { pod: podOf(target, objects) }, port: containerPort.containerPort };
}

/**
 * What the workloads of a build need and cannot reach: each address-valued
 * variable of their environment (an unclassified one is a problem too, so a
 * new variable gets a decision), and the database of their optional
 * `<name>-database` Secret, whose URL is not in the manifests: that must be
 * reachable at `database`.
 */
function unreachable(
  objects: KubeObject[],
  dns: Record<string, string>,
  database: { to: Endpoint; port: number },
): string[] {
  const problems: string[] = [];
  for (const d of of('Deployment', objects)) {
    const pod = podOf(d, objects);
    for (const [name, value] of Object.entries(envOf(d, objects))) {
      if (!looksLikeAddress(value) || OWN_ADDRESS_VARS.includes(name) || NAME_VARS.includes(name)) continue;
      if (!DESTINATION_VARS.includes(name)) {
        problems.push(
          `${d.metadata.name}: ${name}=${value} is an address this test does not know; add it to DESTINATION_VARS or OWN_ADDRESS_VARS`,
        );
        continue;
      }
      const dest = destination(value, objects, dns);
      if (typeof dest === 'string') problems.push(`${d.metadata.name}: ${name}: ${dest}`);
      else if (!canConnect(objects, pod, dest.to, dest.port))
        problems.push(`${d.metadata.name}: ${name}=${value} is blocked`);
    }
    if (
      envOf(d, objects).DATABASE_URL?.startsWith('secret:') &&
      !canConnect(objects, pod, database.to, database.port)
    ) {
      problems.push(`${d.metadata.name}: the database of its DATABASE_URL Secret is blocked`);
    }
  }
  return problems;
}

const podIn = (namespace: string, objects: KubeObject[], labels: Record<string, string> = {}): Endpoint => ({
  pod: { namespace, namespaceLabels: namespaceLabels(namespace, objects), labels },
});
const databaseAt = (c: RenderConfig, ip?: string) => ({
  to: c.database.cidrs ? { ip: ip! } : podIn(c.database.namespace!, []),
  port: c.database.ports?.[0] ?? 5432,
});

describe('egress: what the workloads need is reachable, nothing else', () => {
  test.each(Object.keys(builds))(
    'istio/%s: every destination in the environment and the database are reachable',
    (name) => {
      expect(unreachable(builds[name as keyof typeof builds], {}, databaseAt(config))).toEqual([]);
    },
  );

  test('stateful services run more than one replica in prod, so the database egress is needed there', () => {
    const stateful = of('Deployment', builds.prod).filter((d) =>
      envOf(d, builds.prod).DATABASE_URL?.startsWith('secret:'),
    );
    expect(stateful.length).toBeGreaterThan(3);
    for (const d of stateful) expect(d.spec.replicas).toBeGreaterThan(1);
  });

  test("the unreachable stays unreachable: the internet, other database ports, non-mesh namespaces, other workloads' admin ports", () => {
    const objects = builds.prod;
    const registry = of('Deployment', objects).find((d) => d.metadata.name === 'registry-v1')!;
    for (const d of of('Deployment', objects)) {
      const pod = podOf(d, objects);
      const where = d.metadata.name;
      expect({ where, internet: canConnect(objects, pod, { ip: '203.0.113.10' }, 443) }).toEqual({
        where,
        internet: false,
      });
      expect({ where, otherPort: canConnect(objects, pod, databaseAt(config).to, 5433) }).toEqual({
        where,
        otherPort: false,
      });
      expect({ where, elsewhere: canConnect(objects, pod, podIn('other', objects), 50051) }).toEqual({
        where,
        elsewhere: false,
      });
      if (d !== registry)
        expect({ where, admin: canConnect(objects, pod, { pod: podOf(registry, objects) }, 9090) }).toEqual({
          where,
          admin: false,
        });
    }
  });

  test('ingress: the admin port and the merged metrics from the monitoring namespace only; service ports as the policies say', () => {
    const objects = builds.base;
    const prometheus: Pod = {
      namespace: config.monitoringNamespace,
      namespaceLabels: namespaceLabels(config.monitoringNamespace, objects),
      labels: { app: 'prometheus' },
    };
    const stranger: Pod = { namespace: 'default', namespaceLabels: namespaceLabels('default', objects), labels: {} };
    for (const d of of('Deployment', objects)) {
      const pod = { pod: podOf(d, objects) };
      const admin = d.spec.template.spec.containers[0].ports.some((p: any) => p.name === 'http-admin');
      expect(canConnect(objects, prometheus, pod, 9090)).toBe(admin);
      expect(canConnect(objects, prometheus, pod, 15020)).toBe(true);
      expect(canConnect(objects, stranger, pod, 9090)).toBe(false);
      expect(canConnect(objects, stranger, pod, 15020)).toBe(false);
      expect(canConnect(objects, stranger, pod, d.spec.template.spec.containers[0].ports[0].containerPort)).toBe(false);
    }
  });
});

describe("agents' A2A card port", () => {
  test('admits exactly the pods the gRPC port admits (a mesh caller reaches both), and no stranger', () => {
    const objects = builds.base;
    const pods = of('Deployment', objects).map((d) => podOf(d, objects));
    const stranger: Pod = { namespace: 'default', namespaceLabels: namespaceLabels('default', objects), labels: {} };
    const agents = of('Deployment', objects).filter((d) =>
      d.spec.template.spec.containers[0].ports.some((p: any) => p.name === 'http-a2a-card'),
    );
    expect(agents.map((d) => d.metadata.name).sort()).toEqual([
      'compliance-v1',
      'credit-risk-v1',
      'loan-orchestrator-v1',
    ]);
    for (const d of agents) {
      const to = { pod: podOf(d, objects) };
      const where = d.metadata.name;
      const grpc = pods.map((from) => canConnect(objects, from, to, 50051));
      expect({ where, card: pods.map((from) => canConnect(objects, from, to, 8081)) }).toEqual({ where, card: grpc });
      expect({ where, someCaller: grpc.some(Boolean) }).toEqual({ where, someCaller: true });
      expect(canConnect(objects, stranger, to, 8081)).toBe(false);
    }
  });
});

describe('render settings with everything outside the cluster', () => {
  const settings = renderConfigSchema.parse({
    ...config,
    oauth: {
      issuer: 'https://login.example.com/realms/mesh',
      jwksUri: 'https://login.example.com/realms/mesh/certs',
      tokenUrl: 'https://login.example.com/realms/mesh/token',
      tokenType: 'none',
      preset: 'keycloak',
      audience: 'https://{name}.{namespace}.agents.example.com',
      cidrs: ['203.0.113.0/24'],
    },
    vault: { ...config.vault, address: 'https://vault.example.com:8200', cidrs: ['198.51.100.16/28'] },
    database: { cidrs: ['10.20.0.0/16'], ports: [5432] },
    llm: {
      baseUrl: 'https://llm.example.com/v1',
      cidrs: ['0.0.0.0/0'],
      except: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'],
    },
    egress: [
      {
        name: 'otel',
        description: 'the OTLP collector',
        namespace: 'observability',
        ports: [4318],
        namespaces: ['lending'],
      },
    ],
  });
  const dns = {
    'login.example.com': '203.0.113.7',
    'vault.example.com': '198.51.100.20',
    'llm.example.com': '104.18.32.7',
  };
  const { rendered, objects } = renderAndBuild(settings);
  const deployments = of('Deployment', objects);
  const agents = deployments.filter((d) => d.spec.template.spec.containers[0].args[0].startsWith('agents/'));

  test('renders valid manifests without the in-cluster auth server', () => {
    for (const o of objects) validate(o);
    expect(rendered.services.map((s) => s.name)).not.toContain('agentmesh/auth');
    expect(agents.length).toBeGreaterThan(0);
  });

  test('every destination in the environment and the database are reachable, at the addresses their hosts resolve to', () => {
    expect(unreachable(objects, dns, databaseAt(settings, '10.20.3.4'))).toEqual([]);
  });

  test('only agents get the LLM endpoint, its key from their own optional Secret, and the egress to it; private ranges stay closed', () => {
    for (const d of deployments) {
      const env = envOf(d, objects);
      const agent = agents.includes(d);
      expect({ d: d.metadata.name, llm: env.OPENAI_BASE_URL }).toEqual({
        d: d.metadata.name,
        llm: agent ? 'https://llm.example.com/v1' : undefined,
      });
      if (agent) expect(env.OPENAI_API_KEY).toBe(`secret:${d.spec.template.spec.serviceAccountName}-llm/api-key`);
      expect(d.spec.template.metadata.labels[LLM_LABEL]).toBe(agent ? 'true' : undefined);
      expect(canConnect(objects, podOf(d, objects), { ip: dns['llm.example.com'] }, 443)).toBe(agent);
      expect(canConnect(objects, podOf(d, objects), { ip: '10.1.2.3' }, 443)).toBe(false);
    }
  });

  test('an extra destination opens only for the namespaces it names', () => {
    for (const d of deployments) {
      expect({
        d: d.metadata.name,
        otel: canConnect(objects, podOf(d, objects), podIn('observability', objects), 4318),
      }).toEqual({ d: d.metadata.name, otel: d.metadata.namespace === 'lending' });
    }
  });
});

describe('render settings NetworkPolicy could not honour are refused', () => {
  const withSettings = (over: Record<string, unknown>) => renderConfigSchema.parse({ ...config, ...over });

  test('an issuer outside the cluster without its address ranges', () => {
    const settings = withSettings({
      oauth: { issuer: 'https://login.example.com', jwksUri: 'https://login.example.com/jwks' },
    });
    expect(() => renderIstio(ROOT, settings)).toThrow(
      /oauth: login\.example\.com is outside the cluster; set oauth\.cidrs/,
    );
  });

  test('a Vault address in one namespace with another namespace configured', () => {
    expect(() => renderIstio(ROOT, withSettings({ vault: { ...config.vault, namespace: 'secrets' } }))).toThrow(
      /vault: namespace secrets is not the one/,
    );
  });

  test('an extra destination for a namespace without services', () => {
    expect(() =>
      renderIstio(ROOT, withSettings({ egress: [{ name: 'x', namespace: 'y', ports: [1], namespaces: ['nope'] }] })),
    ).toThrow(/egress x: namespaces nope hold no service/);
  });

  test.each([
    ['both a namespace and cidrs', { database: { namespace: 'db', cidrs: ['10.0.0.0/8'], ports: [5432] } }, /not both/],
    [
      'an except outside its cidrs',
      { database: { cidrs: ['10.0.0.0/8'], except: ['192.168.0.0/16'], ports: [5432] } },
      /192\.168\.0\.0\/16 is not inside/,
    ],
    ['a malformed cidr', { llm: { baseUrl: 'https://x.example', cidrs: ['10.0.0.0/33'] } }, /must be a CIDR/],
    [
      'the old vault.port field',
      { vault: { address: 'https://vault.vault.svc.cluster.local:8200', port: 8200 } },
      /port/,
    ],
  ])('%s', (_what, over, message) => {
    const result = renderConfigSchema.safeParse({ ...config, ...over });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error!.issues)).toMatch(message);
  });
});

describe("tool services' MCP port", () => {
  test('admits exactly the pods the gRPC port admits, and no stranger', () => {
    const objects = builds.base;
    const pods = of('Deployment', objects).map((d) => podOf(d, objects));
    const stranger: Pod = { namespace: 'default', namespaceLabels: namespaceLabels('default', objects), labels: {} };
    const tools = of('Deployment', objects).filter((d) =>
      d.spec.template.spec.containers[0].ports.some((p: any) => p.name === 'http-mcp'),
    );
    expect(tools.map((d) => d.metadata.name).sort()).toEqual(['customer-records-v1', 'loan-math-v1']);
    for (const d of tools) {
      const to = { pod: podOf(d, objects) };
      const where = d.metadata.name;
      const grpc = pods.map((from) => canConnect(objects, from, to, 50051));
      expect({ where, mcp: pods.map((from) => canConnect(objects, from, to, 8082)) }).toEqual({ where, mcp: grpc });
      expect({ where, someCaller: grpc.some(Boolean) }).toEqual({ where, someCaller: true });
      expect(canConnect(objects, stranger, to, 8082)).toBe(false);
    }
  });
});
