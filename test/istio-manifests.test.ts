// istio/ against the code: the committed base equals the rendering, every
// manifest validates against the Kubernetes and Istio schemas, the overlays
// build, and the manifests agree with the policies, identities, ports and
// kernel settings the services use. Network paths: istio-network.test.ts;
// routes and retries: istio-traffic.test.ts.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { kernelConfigSchema } from '../mesh/config/config.js';
import {
  A2A_CARD_PORT,
  ADMIN_PORT,
  diffRendered,
  GRPC_PORT,
  grpcMethods,
  MCP_PORT,
  methodsMatching,
  OPEN_PATHS,
  PRESTOP_DRAIN_S,
  renderIstio,
  STATEFUL_LABEL,
  translateCaller,
} from '../devtools/istio-render/index.js';
import { matchesSpiffePattern, spiffeIdOfService } from '../mesh/security/spiffe-id.js';
import { startAdminServer } from '../mesh/telemetry/admin-server.js';
import { MeshMetrics } from '../mesh/telemetry/metrics.js';
import { istioAllows } from './helpers/istio-authz.js';
import { builds, config, envOf, of, podOf, renderAndBuild, validate, type Spec } from './helpers/istio-render.js';
import { kustomizeBuild, type KubeObject } from './helpers/kustomize.js';
import { ROOT } from './helpers/processes.js';

const TD = config.trustDomain;
const rendered = renderIstio(ROOT, config);
const base = builds.base;
const issuer = (ns: string) =>
  envOf(
    of('Deployment', base).find((d) => d.metadata.namespace === ns)!,
    base,
  ).AGENTMESH_OAUTH_ISSUER!;

function serviceFolders(dir: string, found: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) serviceFolders(join(dir, entry.name), found);
    else if (entry.name === 'main.ts') found.push(relative(join(ROOT, 'services'), dir));
  }
  return found.sort();
}

describe('istio/ is rendered from the services and current', () => {
  test('the committed istio/base equals the rendering (run `npm run render:istio` after changing a policy or a service)', () => {
    expect(diffRendered(rendered, join(ROOT, 'istio', 'base'))).toEqual([]);
  });

  test("the cluster's client registrations name no repository files (a refusal's policy_file hint is for the laptop mesh)", () => {
    const auth = [...rendered.files.entries()].find(([path]) => path.endsWith('/auth.yaml'))![1];
    expect(auth).toContain('"client_id"');
    expect(auth).not.toContain('policy_file');
  });

  test('every folder under services/ with a main.ts is rendered into its own file, the auth server included (the console is an external client)', () => {
    // The web console is what people open on their own machine: it calls the mesh from outside, as the CLI does.
    expect(config.externalClients).toContain('agentmesh/console');
    expect(rendered.services.map((s) => s.path).sort()).toEqual(
      serviceFolders(join(ROOT, 'services')).filter((p) => p !== 'console'),
    );
    expect(rendered.services.map((s) => s.path)).toContain('auth');
    for (const s of rendered.services) expect(rendered.files.has(`${s.namespace}/${s.account}.yaml`)).toBe(true);
  });
});

describe('every manifest validates against the Kubernetes and Istio schemas', () => {
  test.each(Object.keys(builds))('istio/%s builds and every object validates', (name) => {
    const objects = builds[name as keyof typeof builds];
    expect(objects.length).toBeGreaterThan(10);
    for (const o of objects) validate(o);
  });

  test('a manifest that breaks the schema is caught', () => {
    const vs = structuredClone(of('VirtualService', base)[0]!);
    vs.spec.http[0].timeout = 10;
    expect(() => validate(vs)).toThrow(/timeout must be string/);
  });

  test('overlays change what they say: dev debug logs and the dev image, prod two replicas and a pinned image', () => {
    expect(
      of<{ data: Record<string, string> }>('ConfigMap', builds.dev).find(
        (c) => c.metadata.name === 'agentmesh-settings',
      )!.data.AGENTMESH_LOG_LEVEL,
    ).toBe('debug');
    for (const d of of('Deployment', builds.dev))
      expect(d.spec.template.spec.containers[0].image).toBe('agentmesh:dev');
    for (const d of of('Deployment', builds.prod)) {
      expect(d.spec.replicas).toBe(2);
      expect(d.spec.template.spec.containers[0].image).toBe('registry.example.com/agentmesh:0.1.0');
    }
  });
});

describe('the manifests agree with the code', () => {
  const methods = grpcMethods();
  const grpcServices = rendered.services.filter((s) => s.kind === 'grpc');
  const open = new Set(OPEN_PATHS.flatMap((p) => methodsMatching(p.slice(1), methods)).map((m) => m.name));
  const policyOf = (ns: string, name: string) =>
    of('AuthorizationPolicy', base).find((p) => p.metadata.namespace === ns && p.metadata.name === name)!;
  const workload = (s: { namespace: string; account: string }) => ({
    namespace: s.namespace,
    labels: { app: s.account, version: 'v1' },
  });

  test('Istio admits a caller for a method exactly when the service policy names it (scopes aside) or the method is health/reflection, never more', () => {
    const identities = of('ServiceAccount', base).map(
      (sa) => `${TD}/ns/${sa.metadata.namespace}/sa/${sa.metadata.name}`,
    );
    identities.push(`${TD}/ns/elsewhere/sa/stranger`);
    for (const s of grpcServices) {
      for (const m of methods) {
        for (const principal of identities) {
          const id = `spiffe://${principal}`;
          const local =
            open.has(m.name) ||
            s.policy!.rules.some(
              (r) =>
                r.methods.some((p) => methodsMatching(p, [m]).length) &&
                r.callers.some((c) => c === '*' || matchesSpiffePattern(c, id)),
            );
          const request = {
            principal,
            namespace: principal.split('/')[2],
            port: GRPC_PORT,
            method: 'POST',
            path: m.path,
          };
          const istio = istioAllows(base, workload(s), {
            ...request,
            requestPrincipal: `${issuer(s.namespace)}/${principal}`,
          });
          expect({ service: s.name, method: m.name, id, istio }).toEqual({
            service: s.name,
            method: m.name,
            id,
            istio: local,
          });
          // Without a token only health and reflection pass the sidecar.
          expect({ service: s.name, method: m.name, id, untokened: istioAllows(base, workload(s), request) }).toEqual({
            service: s.name,
            method: m.name,
            id,
            untokened: open.has(m.name),
          });
        }
      }
    }
  });

  test('every exact path of a gRPC rule is a real method; every policy pattern names at least one', () => {
    for (const s of grpcServices) {
      for (const rule of s.policy!.rules)
        for (const pattern of rule.methods)
          expect({ pattern, named: methodsMatching(pattern, methods).length > 0 }).toEqual({ pattern, named: true });
      const grpcRules = policyOf(s.namespace, s.account).spec.rules.filter((r: any) => !r.to[0].operation.ports);
      for (const p of grpcRules.flatMap((r: any) => r.to[0].operation.paths).filter((x: string) => !x.endsWith('*')))
        expect(methods.map((m) => m.path)).toContain(p);
    }
  });

  test('every ServiceAccount is the SPIFFE identity its service uses, and its Deployment runs as it', () => {
    for (const s of rendered.services) {
      const sa = of('ServiceAccount', base).find(
        (x) => x.metadata.name === s.account && x.metadata.namespace === s.namespace,
      );
      expect(`spiffe://${TD}/ns/${sa!.metadata.namespace}/sa/${sa!.metadata.name}`).toBe(spiffeIdOfService(TD, s.name));
      const d = of('Deployment', base).find(
        (x) => x.metadata.namespace === s.namespace && x.spec.selector.matchLabels.app === s.account,
      )!;
      expect(d.spec.template.spec.serviceAccountName).toBe(s.account);
    }
  });

  test('every exact principal in an AuthorizationPolicy names a rendered ServiceAccount in its namespace, or a declared external client', () => {
    const external = config.externalClients.map((c) => `${TD}/ns/${c.split('/')[0]}/sa/${c.split('/')[1]}`);
    const accounts = new Set([
      ...of('ServiceAccount', base).map((sa) => `${TD}/ns/${sa.metadata.namespace}/sa/${sa.metadata.name}`),
      ...external,
    ]);
    for (const ap of of('AuthorizationPolicy', base)) {
      for (const r of ap.spec.rules ?? [])
        for (const p of r.from?.[0]?.source.principals ?? []) if (!p.includes('*')) expect(accounts).toContain(p);
    }
  });

  test('Service ports are named for their protocol and exist on the pods they select; probes use named container ports', () => {
    for (const svc of of('Service', base)) {
      const d = of('Deployment', base).find(
        (x) =>
          x.metadata.namespace === svc.metadata.namespace && x.spec.selector.matchLabels.app === svc.spec.selector.app,
      )!;
      const container = d.spec.template.spec.containers[0];
      const names = container.ports.map((p: any) => p.name);
      for (const port of svc.spec.ports) {
        expect(names).toContain(port.targetPort);
        const grpc =
          rendered.services.find((s) => s.account === svc.metadata.name && s.namespace === svc.metadata.namespace)!
            .kind === 'grpc';
        // An agent's A2A card port: plain HTTP from the app (the sidecar does mTLS).
        if (port.name === 'http-a2a-card') expect(port).toMatchObject({ port: A2A_CARD_PORT, appProtocol: 'http' });
        else if (port.name === 'http-mcp') expect(port).toMatchObject({ port: MCP_PORT, appProtocol: 'http' });
        else if (grpc) expect(port).toMatchObject({ name: expect.stringMatching(/^grpc-/), appProtocol: 'grpc' });
        else expect(port).toMatchObject({ name: expect.stringMatching(/^http-/), appProtocol: 'http' });
      }
      for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe'])
        expect(names).toContain(container[probe].httpGet.port);
      if (names.includes('http-admin')) expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    }
  });

  test('every Deployment is restricted: non-root, read-only root filesystem, no capabilities, RuntimeDefault seccomp, resources', () => {
    for (const d of of('Deployment', base)) {
      const pod = d.spec.template.spec;
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      expect(pod.automountServiceAccountToken).toBe(false);
      for (const c of pod.containers) {
        expect(c.securityContext).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          capabilities: { drop: ['ALL'] },
        });
        expect(c.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
        expect(c.resources.limits).toMatchObject({ memory: expect.any(String) });
        expect(c.volumeMounts.map((m: any) => m.mountPath)).toContain('/tmp');
      }
      expect(d.spec.template.metadata.labels.version).toMatch(/^v\d+$/);
    }
  });

  // Shutdown (mesh/service/service-kit.ts): NOT_SERVING for the delay, drain for the grace, then
  // deregistration and closing stores. Kubernetes kills the pod at the termination grace, so that
  // must cover all of it, and the sidecar must keep carrying traffic as long.
  test.each(Object.keys(builds))(
    'istio/%s: the termination grace covers the preStop wait, the shutdown delay, the drain grace and 2 s for cleanup; the sidecar drains as long',
    (name) => {
      const objects = builds[name as keyof typeof builds];
      for (const d of of('Deployment', objects)) {
        const env = envOf(d, objects);
        const delay = Number(env.AGENTMESH_SHUTDOWN_DELAY_MS);
        const grace = Number(env.AGENTMESH_SHUTDOWN_GRACE_MS);
        expect(delay).toBeGreaterThan(0);
        expect(grace).toBeGreaterThan(0);
        const terminationMs = d.spec.template.spec.terminationGracePeriodSeconds * 1000;
        const proxy = JSON.parse(d.spec.template.metadata.annotations['proxy.istio.io/config']);
        const sidecarMs = Number(/^(\d+)s$/.exec(proxy.terminationDrainDuration)![1]) * 1000;
        // The preStop wait runs before SIGTERM reaches the app, inside the same termination grace.
        const preStopMs = d.spec.template.spec.containers[0].lifecycle.preStop.sleep.seconds * 1000;
        expect(preStopMs).toBeGreaterThan(0);
        const deployment = d.metadata.name;
        expect({
          deployment,
          podOutlivesShutdown: terminationMs >= preStopMs + delay + grace + 2_000,
          sidecarOutlivesDrain: sidecarMs >= preStopMs + delay + grace,
        }).toEqual({
          deployment,
          podOutlivesShutdown: true,
          sidecarOutlivesDrain: true,
        });
      }
    },
  );

  test('workloads run in istio transport mode with the kernel defaults, Vault through Kubernetes auth, and the issuer RequestAuthentication trusts', () => {
    const kernel = kernelConfigSchema.parse({});
    for (const cm of of<{ data: Record<string, string> }>('ConfigMap', base).filter(
      (c) => c.metadata.name === 'agentmesh-settings',
    )) {
      expect(cm.data).toMatchObject({
        AGENTMESH_TRANSPORT: 'istio',
        AGENTMESH_TRUST_DOMAIN: TD,
        AGENTMESH_SHUTDOWN_GRACE_MS: String(kernel.AGENTMESH_SHUTDOWN_GRACE_MS),
        AGENTMESH_DEFAULT_DEADLINE_MS: String(kernel.AGENTMESH_DEFAULT_DEADLINE_MS),
        AGENTMESH_SECRETS: 'vault',
        VAULT_AUTH: 'kubernetes',
      });
      for (const ra of of('RequestAuthentication', base).filter(
        (r) => r.metadata.namespace === cm.metadata.namespace,
      )) {
        expect(ra.spec.jwtRules[0]).toMatchObject({
          issuer: cm.data.AGENTMESH_OAUTH_ISSUER,
          jwksUri: cm.data.AGENTMESH_OAUTH_JWKS_URL,
          forwardOriginalToken: true,
        });
        expect(ra.spec.jwtRules[0].audiences).toEqual([
          rendered.services.find((s) => s.account === ra.metadata.name && s.namespace === ra.metadata.namespace)!.name,
        ]);
      }
    }
    const auth = of('Deployment', base).find((d) => d.metadata.name === 'auth-v1')!;
    const authIssuer = auth.spec.template.spec.containers[0].env.find(
      (e: any) => e.name === 'AGENTMESH_AUTH_ISSUER',
    ).value;
    for (const ra of of('RequestAuthentication', base)) expect(ra.spec.jwtRules[0].issuer).toBe(authIssuer);
    for (const d of of('Deployment', base)) {
      const volume = d.spec.template.spec.volumes.find((v: any) => v.name === 'vault-token');
      expect(volume.projected.sources[0].serviceAccountToken).toMatchObject({ audience: config.vault.tokenAudience });
    }
  });

  test('mesh security: STRICT mTLS, allow-nothing and default-deny NetworkPolicy in every namespace', () => {
    for (const ns of of('Namespace', base)) {
      const name = ns.metadata.name;
      expect((ns.metadata as any).labels['istio-injection']).toBe('enabled');
      expect(of('PeerAuthentication', base).find((p) => p.metadata.namespace === name)!.spec.mtls.mode).toBe('STRICT');
      expect(
        of('AuthorizationPolicy', base).find(
          (p) => p.metadata.namespace === name && p.metadata.name === 'allow-nothing',
        )!.spec,
      ).toEqual({});
      expect(
        of('NetworkPolicy', base).find((p) => p.metadata.namespace === name && p.metadata.name === 'default-deny')!
          .spec,
      ).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    }
  });
});

describe('app metrics reach Prometheus', () => {
  const prometheus = {
    principal: `${TD}/ns/${config.monitoringNamespace}/sa/prometheus`,
    namespace: config.monitoringNamespace,
  };
  const grpcDeployments = of('Deployment', base).filter((d) =>
    d.spec.template.spec.containers[0].ports.some((p: any) => p.name === 'http-admin'),
  );

  test('every gRPC workload is annotated for scraping at its admin port and metrics path, with probes rewritten to the sidecar agent', () => {
    expect(grpcDeployments.length).toBe(rendered.services.filter((s) => s.kind === 'grpc').length);
    for (const d of of('Deployment', base)) {
      const annotations = d.spec.template.metadata.annotations;
      expect(annotations['sidecar.istio.io/rewriteAppHTTPProbers']).toBe('true');
      const admin = d.spec.template.spec.containers[0].ports.find((p: any) => p.name === 'http-admin');
      if (!admin) {
        expect(annotations['prometheus.io/scrape']).toBeUndefined(); // the auth server has no metrics port
        continue;
      }
      expect(annotations).toMatchObject({
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': String(admin.containerPort),
        'prometheus.io/path': '/metrics',
      });
      expect(envOf(d, base).AGENTMESH_ADMIN_PORT).toBe(String(admin.containerPort));
    }
  });

  test('the admin server serves the annotated path with the grpc_server_* and agentmesh_* metrics', async () => {
    const metrics = new MeshMetrics('test/metrics');
    metrics.grpcStarted.inc({ grpc_type: 'unary', grpc_service: 'agentmesh.v1.ToolService', grpc_method: 'ListTools' });
    metrics.tokenFailures.inc({ reason: 'expired' });
    const admin = await startAdminServer({ host: '127.0.0.1', port: 0, metrics, readiness: { ready: () => true } });
    try {
      const path = grpcDeployments[0]!.spec.template.metadata.annotations['prometheus.io/path'];
      const res = await fetch(`http://${admin.address}${path}`);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toMatch(/^grpc_server_started_total\{/m);
      expect(text).toMatch(/^agentmesh_token_verification_failures_total\{/m);
    } finally {
      await admin.close();
    }
  });

  test("the sidecar lets only GET /metrics on the admin port through, and only from the monitoring namespace's workloads", () => {
    const someCaller = { principal: `${TD}/ns/lending/sa/credit-risk`, namespace: 'lending' };
    for (const d of grpcDeployments) {
      const w = { namespace: d.metadata.namespace!, labels: d.spec.template.metadata.labels };
      const req = (who: object, method: string, path: string, port = ADMIN_PORT) =>
        istioAllows(base, w, { ...who, port, method, path });
      expect(req(prometheus, 'GET', '/metrics')).toBe(true);
      expect(req(prometheus, 'GET', '/livez')).toBe(false);
      expect(req(prometheus, 'GET', '/readyz')).toBe(false);
      expect(req(prometheus, 'POST', '/metrics')).toBe(false);
      expect(req(prometheus, 'GET', '/metrics', GRPC_PORT)).toBe(false);
      expect(req(someCaller, 'GET', '/metrics')).toBe(false);
      expect(req({}, 'GET', '/metrics')).toBe(false); // no mesh identity: STRICT mTLS already refused it
    }
  });
});

describe("agents' public A2A card (/.well-known/agent-card.json)", () => {
  const agents = of('Deployment', base).filter((d) =>
    d.spec.template.spec.containers[0].ports.some((p: any) => p.name === 'http-a2a-card'),
  );
  const agentServices = rendered.services.filter((s) => s.kind === 'grpc' && s.path.startsWith('agents/'));

  test('every agent, and only agents, serves it on its own named port: container, Service, and the origin the card advertises', () => {
    expect(agents.map((d) => `${d.metadata.namespace}/${d.spec.template.metadata.labels.app}`).sort()).toEqual(
      agentServices.map((s) => `${s.namespace}/${s.account}`).sort(),
    );
    for (const d of agents) {
      const app = d.spec.template.metadata.labels.app;
      const ns = d.metadata.namespace!;
      const port = d.spec.template.spec.containers[0].ports.find((p: any) => p.name === 'http-a2a-card');
      expect(port).toMatchObject({ containerPort: A2A_CARD_PORT, protocol: 'TCP' });
      const env = envOf(d, base);
      expect(env.AGENTMESH_A2A_CARD_PORT).toBe(String(A2A_CARD_PORT));
      // http: the app speaks plain HTTP; the caller's sidecar upgrades to mTLS.
      expect(env.AGENTMESH_A2A_CARD_ORIGIN).toBe(`http://${app}.${ns}.svc.cluster.local:${A2A_CARD_PORT}`);
      const svc = of('Service', base).find((x) => x.metadata.namespace === ns && x.metadata.name === app)!;
      expect(svc.spec.ports).toContainEqual(
        expect.objectContaining({ name: 'http-a2a-card', port: A2A_CARD_PORT, targetPort: 'http-a2a-card' }),
      );
    }
  });

  test('the sidecar lets GET and HEAD of exactly the card path through on that port to any mesh workload, without a token; nothing else', () => {
    const meshCaller = { principal: `${TD}/ns/banking/sa/loan-math`, namespace: 'banking' };
    const path = '/.well-known/agent-card.json';
    for (const d of agents) {
      const w = { namespace: d.metadata.namespace!, labels: d.spec.template.metadata.labels };
      const req = (who: object, method: string, p: string, port = A2A_CARD_PORT) =>
        istioAllows(base, w, { ...who, port, method, path: p });
      expect(req(meshCaller, 'GET', path)).toBe(true);
      expect(req(meshCaller, 'HEAD', path)).toBe(true);
      expect(req(meshCaller, 'POST', path)).toBe(false);
      expect(req(meshCaller, 'GET', '/.well-known/agent.json')).toBe(false);
      expect(req(meshCaller, 'GET', `${path}/x`)).toBe(false);
      expect(req(meshCaller, 'GET', path, GRPC_PORT)).toBe(false);
      expect(req(meshCaller, 'GET', path, ADMIN_PORT)).toBe(false);
      expect(req({ principal: 'elsewhere.test/ns/banking/sa/loan-math' }, 'GET', path)).toBe(false);
      expect(req({}, 'GET', path)).toBe(false); // no mesh identity: STRICT mTLS already refused it
    }
  });
});

describe("tool services' MCP endpoint (/mcp, docs/mcp.md)", () => {
  const served = of('Deployment', base).filter((d) =>
    d.spec.template.spec.containers[0].ports.some((p: any) => p.name === 'http-mcp'),
  );
  const shipped = JSON.parse(readFileSync(join(ROOT, 'services', 'local-mesh.json'), 'utf8')) as {
    services: { name: string; mcp?: boolean }[];
  };

  test('exactly the services with "mcp": true in services/local-mesh.json serve it on their own named port', () => {
    const names = served.map((d) => `${d.metadata.namespace}/${d.spec.template.metadata.labels.app}`).sort();
    expect(names).toEqual(
      shipped.services
        .filter((s) => s.mcp)
        .map((s) => s.name)
        .sort(),
    );
    expect(names.length).toBeGreaterThan(0);
    for (const d of served) {
      const app = d.spec.template.metadata.labels.app;
      const ns = d.metadata.namespace!;
      const env = envOf(d, base);
      expect(env.AGENTMESH_MCP_PORT).toBe(String(MCP_PORT));
      expect(env.AGENTMESH_MCP_ORIGIN).toBe(`http://${app}.${ns}.svc.cluster.local:${MCP_PORT}`);
      const svc = of('Service', base).find((x) => x.metadata.namespace === ns && x.metadata.name === app)!;
      expect(svc.spec.ports).toContainEqual(
        expect.objectContaining({ name: 'http-mcp', port: MCP_PORT, targetPort: 'http-mcp' }),
      );
    }
  });

  test("the sidecar lets the policy's callers POST /mcp (the service checks the token), anyone of the mesh read the metadata; nothing else", () => {
    const token = { requestPrincipal: `${issuer('banking')}/lending/credit-risk` };
    const agent = { principal: `${TD}/ns/lending/sa/credit-risk`, namespace: 'lending', ...token };
    const stranger = { principal: `${TD}/ns/banking/sa/customer-records`, namespace: 'banking', ...token };
    for (const d of served.filter((x) => x.spec.template.metadata.labels.app === 'loan-math')) {
      const w = { namespace: d.metadata.namespace!, labels: d.spec.template.metadata.labels };
      const req = (who: object, method: string, p: string, port = MCP_PORT) =>
        istioAllows(base, w, { ...who, port, method, path: p });
      expect(req(agent, 'POST', '/mcp')).toBe(true);
      // No token: let through to the service, which answers the RFC 9728 challenge (401) an MCP client acts on.
      expect(req({ principal: agent.principal, namespace: 'lending' }, 'POST', '/mcp')).toBe(true);
      expect(req(stranger, 'POST', '/mcp')).toBe(false);
      expect(req(agent, 'POST', '/mcp', ADMIN_PORT)).toBe(false);
      const meta = '/.well-known/oauth-protected-resource/mcp';
      expect(req({ principal: stranger.principal, namespace: 'banking' }, 'GET', meta)).toBe(true);
      expect(req({ principal: stranger.principal, namespace: 'banking' }, 'POST', meta)).toBe(false);
      expect(req({}, 'GET', meta)).toBe(false); // no mesh identity: STRICT mTLS already refused it
    }
  });
});

describe('replicas: what running more than one pod of a workload needs', () => {
  const overlays = readdirSync(join(ROOT, 'istio', 'overlays'));
  const build = (name: string) => kustomizeBuild(join(ROOT, 'istio', 'overlays', name));
  const stateful = (d: KubeObject & Spec) =>
    (d.metadata as { labels?: Record<string, string> }).labels?.[STATEFUL_LABEL] === 'true';
  const databaseRef = (d: KubeObject & Spec) =>
    d.spec.template.spec.containers[0].env.find((e: any) => e.name === 'DATABASE_URL')?.valueFrom?.secretKeyRef;

  /** Stateful Deployments that run several pods without requiring their database Secret: each would keep its own SQLite. */
  const splitState = (objects: KubeObject[]) =>
    of('Deployment', objects)
      .filter((d) => stateful(d) && d.spec.replicas > 1 && databaseRef(d)?.optional !== false)
      .map((d) => `${d.metadata.namespace}/${d.metadata.name}`);

  test('every gRPC workload is marked stateful and reads DATABASE_URL from its own database Secret; optional with one replica', () => {
    const grpc = rendered.services.filter((s) => s.kind === 'grpc');
    const marked = of('Deployment', base).filter(stateful);
    expect(marked.map((d) => d.metadata.name).sort()).toEqual(grpc.map((s) => `${s.account}-v1`).sort());
    for (const d of marked) {
      expect(d.spec.replicas).toBe(1);
      expect(databaseRef(d)).toEqual({
        name: `${d.spec.selector.matchLabels.app}-database`,
        key: 'url',
        optional: true,
      });
    }
  });

  test.each(overlays)(
    'istio/overlays/%s: no stateful workload runs several pods on per-pod SQLite (its database Secret is required)',
    (name) => {
      expect(splitState(build(name))).toEqual([]);
    },
  );

  test('prod requires the database Secret of every stateful workload; an overlay that only raises replicas is caught', () => {
    for (const d of of('Deployment', builds.prod).filter(stateful)) {
      expect(d.spec.replicas).toBeGreaterThan(1);
      expect(databaseRef(d)).toMatchObject({ name: expect.stringMatching(/-database$/), key: 'url', optional: false });
    }
    const dir = mkdtempSync(join(tmpdir(), 'agentmesh-overlay-'));
    try {
      writeFileSync(
        join(dir, 'kustomization.yaml'),
        [
          'resources:',
          `  - ${relative(dir, join(ROOT, 'istio', 'base'))}`,
          'patches:',
          '  - target: { kind: Deployment }',
          '    patch: |-',
          '      - { op: replace, path: /spec/replicas, value: 3 }',
          '',
        ].join('\n'),
      );
      expect(splitState(kustomizeBuild(dir))).toEqual(
        expect.arrayContaining(['lending/loan-orchestrator-v1', 'agentmesh/registry-v1']),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('prod: pods are ready only when /readyz on the admin port says so (the store and the change-log follower answer)', () => {
    for (const d of of('Deployment', builds.prod).filter(stateful)) {
      const c = d.spec.template.spec.containers[0];
      expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http-admin' });
      expect(c.ports).toContainEqual(expect.objectContaining({ name: 'http-admin', containerPort: ADMIN_PORT }));
    }
  });

  test('prod: every workload has exactly one PodDisruptionBudget that keeps one pod serving and never blocks on unready pods', () => {
    const budgets = of('PodDisruptionBudget', builds.prod);
    for (const d of of('Deployment', builds.prod)) {
      const labels = d.spec.template.metadata.labels;
      const mine = budgets.filter(
        (b) =>
          b.metadata.namespace === d.metadata.namespace &&
          Object.entries(b.spec.selector.matchLabels as Record<string, string>).every(([k, v]) => labels[k] === v),
      );
      expect(mine).toHaveLength(1);
      const spec = mine[0]!.spec;
      expect(spec.maxUnavailable === 1 || spec.minAvailable === 1).toBe(true);
      expect(d.spec.replicas - (spec.maxUnavailable ?? d.spec.replicas - spec.minAvailable)).toBeGreaterThanOrEqual(1);
      expect(spec.unhealthyPodEvictionPolicy).toBe('AlwaysAllow');
    }
  });

  test('prod: replicas spread over nodes (required) and zones (preferred), counted per rollout revision', () => {
    for (const d of of('Deployment', builds.prod)) {
      const labels = d.spec.template.metadata.labels;
      const spread = d.spec.template.spec.topologySpreadConstraints;
      const by = (key: string) => spread.find((t: any) => t.topologyKey === key);
      expect(by('kubernetes.io/hostname')).toMatchObject({ maxSkew: 1, whenUnsatisfiable: 'DoNotSchedule' });
      expect(by('topology.kubernetes.io/zone')).toMatchObject({ maxSkew: 1, whenUnsatisfiable: 'ScheduleAnyway' });
      for (const t of spread) {
        // The selector must pick this workload's own pods, or the spread counts nothing.
        for (const [k, v] of Object.entries(t.labelSelector.matchLabels as Record<string, string>))
          expect(labels[k]).toBe(v);
        expect(t.matchLabelKeys).toEqual(['pod-template-hash']);
      }
    }
  });

  test('prod: a preStop wait lets endpoint removal reach the callers before the app begins its own drain', () => {
    for (const d of of('Deployment', builds.prod)) {
      const c = d.spec.template.spec.containers[0];
      expect(c.lifecycle.preStop).toEqual({ sleep: { seconds: PRESTOP_DRAIN_S } });
    }
  });
});

describe('new services are picked up from the tree', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'agentmesh-render-'));
    cpSync(join(ROOT, 'services'), join(root, 'services'), { recursive: true });
    mkdirSync(join(root, 'gen'));
    cpSync(join(ROOT, 'gen', 'descriptors.binpb'), join(root, 'gen', 'descriptors.binpb'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const addService = (path: string, policy: object | undefined) => {
    mkdirSync(join(root, 'services', path), { recursive: true });
    writeFileSync(join(root, 'services', path, 'main.ts'), '// a service\n');
    if (policy) writeFileSync(join(root, 'services', path, 'policy.json'), JSON.stringify(policy));
  };
  const find = (objects: KubeObject[], kind: string, name: string) =>
    objects.find((o) => o.kind === kind && o.metadata.name === name) as KubeObject & Spec;

  test('a tool service with its policy gets its namespace, workload and AuthorizationPolicy, all valid', () => {
    addService('tools/calculator', {
      service: 'tools/calculator',
      rules: [
        {
          description: 'agents of lending call tools',
          methods: ['agentmesh.v1.ToolService/*'],
          callers: ['spiffe://{trust_domain}/ns/lending/sa/*'],
          scopes: ['tool.invoke'],
        },
        {
          description: 'auditors anywhere read',
          methods: ['agentmesh.v1.ToolService/ListTools'],
          callers: ['spiffe://{trust_domain}/ns/*/sa/auditor'],
        },
      ],
    });
    const { rendered: out, objects } = renderAndBuild(config, root);
    expect([...out.files.keys()]).toEqual(expect.arrayContaining(['tools/namespace.yaml', 'tools/calculator.yaml']));
    for (const o of objects) validate(o);
    const ap = find(objects, 'AuthorizationPolicy', 'calculator');
    expect(ap.spec.rules[1]).toMatchObject({
      from: [{ source: { principals: [`${TD}/ns/lending/sa/*`] } }],
      to: [{ operation: { paths: ['/agentmesh.v1.ToolService/*'] } }],
    });
    expect(ap.spec.rules[2]).toMatchObject({
      from: [{ source: { principals: [`${TD}/ns/*`] } }],
      when: [{ key: 'source.principal', values: ['*/sa/auditor'] }],
    });
    expect(find(objects, 'NetworkPolicy', 'calculator-ingress').spec.ingress[0].from).toEqual([
      { namespaceSelector: { matchLabels: { 'agentmesh.dev/mesh': 'true' } } },
    ]);
    const d = find(objects, 'Deployment', 'calculator-v1');
    expect(d.spec).toMatchObject({
      template: { spec: { containers: [{ args: ['tools/calculator'] }], serviceAccountName: 'calculator' } },
    });
    expect(podOf(d, objects).namespaceLabels).toMatchObject({ 'agentmesh.dev/mesh': 'true' });
  });

  test('a caller pattern Istio cannot express is narrowed, reported, and never widened', () => {
    addService('agents/lender', {
      service: 'lending/lender',
      rules: [
        {
          methods: ['agentmesh.v1.AgentService/SendTask'],
          callers: [
            'spiffe://other.example/ns/lending/sa/orchestrator',
            'spiffe://{trust_domain}/ns/lending/sa/orchestrator',
          ],
        },
      ],
    });
    const { rendered: out, objects } = renderAndBuild(config, root);
    expect(out.notes.join('\n')).toMatch(/other\.example/);
    expect(find(objects, 'AuthorizationPolicy', 'lender').spec.rules[1].from[0].source.principals).toEqual([
      `${TD}/ns/lending/sa/orchestrator`,
    ]);
    expect(translateCaller('spiffe://other.example/ns/lending/sa/orchestrator', TD).principals).toEqual([]);
  });

  test('a policy.json without a main.ts is refused with its path named', () => {
    mkdirSync(join(root, 'services', 'tools', 'stray'), { recursive: true });
    writeFileSync(
      join(root, 'services', 'tools', 'stray', 'policy.json'),
      JSON.stringify({ service: 'tools/stray', rules: [] }),
    );
    expect(() => renderIstio(root, config)).toThrow(/services\/tools\/stray\/policy\.json has no main\.ts/);
  });

  test('a service without policy.json is refused with its path named', () => {
    addService('tools/unguarded', undefined);
    expect(() => renderIstio(root, config)).toThrow(/services\/tools\/unguarded\/main\.ts has no policy\.json/);
  });
});
