// istio/ against the code: the committed base equals the rendering, every
// manifest validates against the Kubernetes and Istio schemas, the overlays
// build, and the manifests agree with the policies, identities, ports and
// kernel settings the services use.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Service, ServiceAccount } from 'kubernetes-models/v1';
import { DestinationRule, VirtualService } from '@kubernetes-models/istio/networking.istio.io/v1beta1';
import { AuthorizationPolicy, RequestAuthentication } from '@kubernetes-models/istio/security.istio.io/v1';
import { PeerAuthentication } from '@kubernetes-models/istio/security.istio.io/v1beta1';
import { kernelConfigSchema } from '../mesh/config/config.js';
import {
  diffRendered,
  grpcMethods,
  loadRenderConfig,
  methodsMatching,
  renderIstio,
  RETRY_ON,
  translateCaller,
  istioAdmits,
  type RenderedIstio,
} from '../mesh/deploy/index.js';
import { RETRYABLE } from '../mesh/runtime/retry.js';
import { Code } from '../mesh/server/errors.js';
import { matchesSpiffePattern, spiffeIdOfService } from '../mesh/security/spiffe-id.js';
import { kustomizeBuild, readManifests, type KubeObject } from './helpers/kustomize.js';
import { ROOT } from './helpers/processes.js';

const MODELS: Record<string, { new (data: never): { validate(): void } }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'networking.istio.io/v1beta1/DestinationRule': DestinationRule,
  'networking.istio.io/v1beta1/VirtualService': VirtualService,
  'security.istio.io/v1/AuthorizationPolicy': AuthorizationPolicy,
  'security.istio.io/v1/RequestAuthentication': RequestAuthentication,
  'security.istio.io/v1beta1/PeerAuthentication': PeerAuthentication,
};

function validate(o: KubeObject): void {
  const Model = MODELS[`${o.apiVersion}/${o.kind}`];
  if (!Model) throw new Error(`no schema for ${o.apiVersion} ${o.kind} (${o.metadata.name})`);
  try {
    new Model(o as never).validate();
  } catch (err) {
    throw new Error(`${o.kind} ${o.metadata.namespace}/${o.metadata.name}: ${(err as Error).message}`);
  }
}

const config = loadRenderConfig(join(ROOT, 'istio', 'render-config.json'));
const TD = config.trustDomain;
const rendered = renderIstio(ROOT, config);
const base = kustomizeBuild(join(ROOT, 'istio', 'base'));
const of = <T = KubeObject>(kind: string, objects = base) => objects.filter((o) => o.kind === kind) as unknown as (KubeObject & T)[];
type Spec = { spec: any };

describe('istio/ is rendered from the services and current', () => {
  test('the committed istio/base equals the rendering (run `npm run render:istio` after changing a policy or a service)', () => {
    expect(diffRendered(rendered, join(ROOT, 'istio', 'base'))).toEqual([]);
  });

  test('every service folder is rendered: today the registry and the auth server', () => {
    expect(rendered.services.map((s) => s.name)).toEqual(expect.arrayContaining(['agentmesh/auth', 'agentmesh/registry']));
    for (const s of rendered.services) expect(rendered.files.has(`${s.namespace}/${s.account}.yaml`)).toBe(true);
  });
});

describe('every manifest validates against the Kubernetes and Istio schemas', () => {
  test.each(['base', 'overlays/dev', 'overlays/prod'])('istio/%s builds and every object validates', (dir) => {
    const objects = kustomizeBuild(join(ROOT, 'istio', dir));
    expect(objects.length).toBeGreaterThan(10);
    for (const o of objects) validate(o);
  });

  test('a manifest that breaks the schema is caught', () => {
    const vs = structuredClone(of('VirtualService')[0]!) as KubeObject & Spec;
    vs.spec.http[0].timeout = 10;
    expect(() => validate(vs)).toThrow(/timeout must be string/);
  });

  test('overlays change what they say: dev debug logs and the dev image, prod two replicas and a pinned image', () => {
    const dev = kustomizeBuild(join(ROOT, 'istio', 'overlays/dev'));
    const prod = kustomizeBuild(join(ROOT, 'istio', 'overlays/prod'));
    expect(of<{ data: Record<string, string> }>('ConfigMap', dev).find((c) => c.metadata.name === 'agentmesh-settings')!.data.AGENTMESH_LOG_LEVEL).toBe('debug');
    for (const d of of<Spec>('Deployment', dev)) expect(d.spec.template.spec.containers[0].image).toBe('agentmesh:dev');
    for (const d of of<Spec>('Deployment', prod)) {
      expect(d.spec.replicas).toBe(2);
      expect(d.spec.template.spec.containers[0].image).toBe('registry.example.com/agentmesh:0.1.0');
    }
  });
});

describe('the manifests agree with the code', () => {
  const methods = grpcMethods();
  const grpcServices = rendered.services.filter((s) => s.kind === 'grpc');
  const policyOf = (ns: string, name: string) => of<Spec>('AuthorizationPolicy').find((p) => p.metadata.namespace === ns && p.metadata.name === name);

  test('every method of every policy is allowed by its AuthorizationPolicy, and every rendered path is a real method', () => {
    for (const s of grpcServices) {
      const ap = policyOf(s.namespace, s.account)!;
      const paths: string[] = ap.spec.rules.flatMap((r: any) => r.to.flatMap((t: any) => t.operation.paths));
      for (const rule of s.policy!.rules) {
        for (const pattern of rule.methods) {
          const named = methodsMatching(pattern, methods);
          expect({ pattern, methods: named.length > 0 }).toEqual({ pattern, methods: true });
          for (const m of named) expect(paths.some((p) => p === m.path || (p.endsWith('*') && m.path.startsWith(p.slice(0, -1))))).toBe(true);
        }
      }
      for (const p of paths.filter((x) => !x.endsWith('*'))) expect(methods.map((m) => m.path)).toContain(p);
    }
  });

  test('Istio admits a caller for a method exactly when the service policy names it (scopes aside), never more', () => {
    const identities = of('ServiceAccount').map((sa) => `spiffe://${TD}/ns/${sa.metadata.namespace}/sa/${sa.metadata.name}`);
    identities.push(`spiffe://${TD}/ns/elsewhere/sa/stranger`);
    for (const s of grpcServices) {
      const ap = policyOf(s.namespace, s.account)!;
      for (const m of methods) {
        for (const id of identities) {
          const local = s.policy!.rules.some((r) => r.methods.some((p) => methodsMatching(p, [m]).length) && r.callers.some((c) => c === '*' || matchesSpiffePattern(c, id)));
          const istio = ap.spec.rules.some(
            (r: any) =>
              r.from[0].source.requestPrincipals &&
              r.to[0].operation.paths.some((p: string) => p === m.path || (p.endsWith('*') && m.path.startsWith(p.slice(0, -1)))) &&
              istioAdmits({ principals: r.from[0].source.principals, when: r.when, exact: true }, id),
          );
          expect({ service: s.name, method: m.name, id, istio }).toEqual({ service: s.name, method: m.name, id, istio: local });
        }
      }
    }
  });

  test('every ServiceAccount is the SPIFFE identity its service uses, and its Deployment runs as it', () => {
    for (const s of rendered.services) {
      const sa = of('ServiceAccount').find((x) => x.metadata.name === s.account && x.metadata.namespace === s.namespace);
      expect(sa).toBeDefined();
      expect(`spiffe://${TD}/ns/${sa!.metadata.namespace}/sa/${sa!.metadata.name}`).toBe(spiffeIdOfService(TD, s.name));
      const d = of<Spec>('Deployment').find((x) => x.metadata.namespace === s.namespace && x.spec.selector.matchLabels.app === s.account)!;
      expect(d.spec.template.spec.serviceAccountName).toBe(s.account);
    }
  });

  test('every exact principal in an AuthorizationPolicy names a rendered ServiceAccount in its namespace, or a declared external client', () => {
    const external = loadRenderConfig(join(ROOT, 'istio', 'render-config.json')).externalClients.map((c) => `${TD}/ns/${c.split('/')[0]}/sa/${c.split('/')[1]}`);
    const accounts = new Set([...of('ServiceAccount').map((sa) => `${TD}/ns/${sa.metadata.namespace}/sa/${sa.metadata.name}`), ...external]);
    for (const ap of of<Spec>('AuthorizationPolicy')) {
      for (const r of ap.spec.rules ?? []) for (const p of r.from?.[0]?.source.principals ?? []) if (!p.includes('*')) expect(accounts).toContain(p);
    }
  });

  test('Service ports are named for their protocol and exist on the pods they select; probes use named container ports', () => {
    for (const svc of of<Spec>('Service')) {
      const d = of<Spec>('Deployment').find((x) => x.metadata.namespace === svc.metadata.namespace && x.spec.selector.matchLabels.app === svc.spec.selector.app)!;
      const container = d.spec.template.spec.containers[0];
      const names = container.ports.map((p: any) => p.name);
      for (const port of svc.spec.ports) {
        expect(names).toContain(port.targetPort);
        const grpc = rendered.services.find((s) => s.account === svc.metadata.name && s.namespace === svc.metadata.namespace)!.kind === 'grpc';
        if (grpc) expect(port).toMatchObject({ name: expect.stringMatching(/^grpc-/), appProtocol: 'grpc' });
        else expect(port).toMatchObject({ name: expect.stringMatching(/^http-/), appProtocol: 'http' });
      }
      for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) expect(names).toContain(container[probe].httpGet.port);
      if (names.includes('http-admin')) expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    }
  });

  test('every Deployment is restricted: non-root, read-only root filesystem, no capabilities, RuntimeDefault seccomp, resources, drain time', () => {
    const kernel = kernelConfigSchema.parse({});
    for (const d of of<Spec>('Deployment')) {
      const pod = d.spec.template.spec;
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      expect(pod.automountServiceAccountToken).toBe(false);
      for (const c of pod.containers) {
        expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
        expect(c.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
        expect(c.resources.limits).toMatchObject({ memory: expect.any(String) });
        expect(c.volumeMounts.map((m: any) => m.mountPath)).toContain('/tmp');
      }
      expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(kernel.AGENTMESH_SHUTDOWN_GRACE_MS);
      expect(d.spec.template.metadata.labels.version).toMatch(/^v\d+$/);
    }
  });

  test('workloads run in istio transport mode with the kernel defaults, Vault through Kubernetes auth, and the issuer RequestAuthentication trusts', () => {
    const kernel = kernelConfigSchema.parse({});
    for (const cm of of<{ data: Record<string, string> }>('ConfigMap').filter((c) => c.metadata.name === 'agentmesh-settings')) {
      expect(cm.data).toMatchObject({
        AGENTMESH_TRANSPORT: 'istio',
        AGENTMESH_TRUST_DOMAIN: TD,
        AGENTMESH_SHUTDOWN_GRACE_MS: String(kernel.AGENTMESH_SHUTDOWN_GRACE_MS),
        AGENTMESH_DEFAULT_DEADLINE_MS: String(kernel.AGENTMESH_DEFAULT_DEADLINE_MS),
        AGENTMESH_SECRETS: 'vault',
        VAULT_AUTH: 'kubernetes',
      });
      for (const ra of of<Spec>('RequestAuthentication').filter((r) => r.metadata.namespace === cm.metadata.namespace)) {
        expect(ra.spec.jwtRules[0]).toMatchObject({ issuer: cm.data.AGENTMESH_OAUTH_ISSUER, jwksUri: cm.data.AGENTMESH_OAUTH_JWKS_URL, forwardOriginalToken: true });
        expect(ra.spec.jwtRules[0].audiences).toEqual([rendered.services.find((s) => s.account === ra.metadata.name && s.namespace === ra.metadata.namespace)!.name]);
      }
    }
    const auth = of<Spec>('Deployment').find((d) => d.metadata.name === 'auth-v1')!;
    const issuer = auth.spec.template.spec.containers[0].env.find((e: any) => e.name === 'AGENTMESH_AUTH_ISSUER').value;
    for (const ra of of<Spec>('RequestAuthentication')) expect(ra.spec.jwtRules[0].issuer).toBe(issuer);
    for (const d of of<Spec>('Deployment')) {
      const volume = d.spec.template.spec.volumes.find((v: any) => v.name === 'vault-token');
      expect(volume.projected.sources[0].serviceAccountToken).toMatchObject({ audience: config.vault.tokenAudience });
    }
  });

  test('mesh security: STRICT mTLS, allow-nothing and default-deny NetworkPolicy in every namespace', () => {
    for (const ns of of('Namespace')) {
      const name = ns.metadata.name;
      expect((ns.metadata as any).labels['istio-injection']).toBe('enabled');
      expect(of<Spec>('PeerAuthentication').find((p) => p.metadata.namespace === name)!.spec.mtls.mode).toBe('STRICT');
      expect(of<Spec>('AuthorizationPolicy').find((p) => p.metadata.namespace === name && p.metadata.name === 'allow-nothing')!.spec).toEqual({});
      expect(of<Spec>('NetworkPolicy').find((p) => p.metadata.namespace === name && p.metadata.name === 'default-deny')!.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    }
  });

  test('retries and timeouts follow the kernel: its retryable codes only, its default deadline for unary calls, none for server streams', () => {
    const envoyCodes: Record<string, Code> = { unavailable: Code.UNAVAILABLE, 'deadline-exceeded': Code.DEADLINE_EXCEEDED, 'resource-exhausted': Code.RESOURCE_EXHAUSTED };
    for (const cond of RETRY_ON.split(',')) if (!['connect-failure', 'refused-stream'].includes(cond)) expect(RETRYABLE.has(envoyCodes[cond]!)).toBe(true);
    const kernel = kernelConfigSchema.parse({});
    const streaming = new Set(methods.filter((m) => m.serverStreaming).map((m) => m.path));
    for (const vs of of<Spec>('VirtualService')) {
      for (const route of vs.spec.http) {
        const paths: string[] = (route.match ?? []).map((m: any) => m.uri?.exact).filter(Boolean);
        if (paths.length) {
          for (const p of paths) expect(streaming.has(p)).toBe(true);
          expect(route.timeout).toBe('0s');
        } else expect(route.timeout).toBe(`${kernel.AGENTMESH_DEFAULT_DEADLINE_MS / 1000}s`);
      }
    }
  });

  test('canary: a subset per version, a header-pinned route per version, weights that add up to 100', () => {
    for (const vs of of<Spec>('VirtualService')) {
      const dr = of<Spec>('DestinationRule').find((d) => d.metadata.namespace === vs.metadata.namespace && d.metadata.name === vs.metadata.name)!;
      const subsets = dr.spec.subsets.map((s: any) => s.name);
      expect(subsets).toEqual(['v1', 'v2']);
      for (const v of subsets) expect(vs.spec.http.some((r: any) => r.match?.[0]?.headers?.['x-agentmesh-version']?.exact === v && r.route[0].destination.subset === v)).toBe(true);
      for (const r of vs.spec.http.filter((x: any) => x.route.length > 1)) expect(r.route.reduce((n: number, d: any) => n + d.weight, 0)).toBe(100);
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

  test('a tool service with its policy gets its namespace, workload and AuthorizationPolicy, all valid', () => {
    addService('tools/calculator', {
      service: 'tools/calculator',
      rules: [
        { description: 'agents of lending call tools', methods: ['agentmesh.v1.ToolService/*'], callers: ['spiffe://{trust_domain}/ns/lending/sa/*'], scopes: ['tool.invoke'] },
        { description: 'auditors anywhere read', methods: ['agentmesh.v1.ToolService/ListTools'], callers: ['spiffe://{trust_domain}/ns/*/sa/auditor'] },
      ],
    });
    const out: RenderedIstio = renderIstio(root, config);
    expect([...out.files.keys()]).toEqual(expect.arrayContaining(['tools/namespace.yaml', 'tools/calculator.yaml']));
    mkdirSync(join(root, 'istio'));
    for (const [path, text] of out.files) {
      mkdirSync(join(root, 'istio', path, '..'), { recursive: true });
      writeFileSync(join(root, 'istio', path), text);
    }
    const objects = kustomizeBuild(join(root, 'istio'));
    for (const o of objects) validate(o);
    const ap = objects.find((o) => o.kind === 'AuthorizationPolicy' && o.metadata.name === 'calculator') as KubeObject & Spec;
    expect(ap.spec.rules[1]).toMatchObject({ from: [{ source: { principals: [`${TD}/ns/lending/sa/*`] } }], to: [{ operation: { paths: ['/agentmesh.v1.ToolService/*'] } }] });
    expect(ap.spec.rules[2]).toMatchObject({ from: [{ source: { principals: [`${TD}/ns/*`] } }], when: [{ key: 'source.principal', values: ['*/sa/auditor'] }] });
    const np = objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'calculator-ingress') as KubeObject & Spec;
    expect(np.spec.ingress[0].from).toEqual([{ namespaceSelector: { matchLabels: { 'agentmesh.dev/mesh': 'true' } } }]);
    expect(readManifests(join(root, 'istio', 'tools', 'calculator.yaml')).find((o) => o.kind === 'Deployment')!.spec).toMatchObject({
      template: { spec: { containers: [{ args: ['tools/calculator'] }], serviceAccountName: 'calculator' } },
    });
  });

  test('a caller pattern Istio cannot express is narrowed, reported, and never widened', () => {
    addService('agents/lender', {
      service: 'lending/lender',
      rules: [{ methods: ['agentmesh.v1.AgentService/SendTask'], callers: ['spiffe://other.example/ns/lending/sa/orchestrator', 'spiffe://{trust_domain}/ns/lending/sa/orchestrator'] }],
    });
    const out = renderIstio(root, config);
    expect(out.notes.join('\n')).toMatch(/other\.example/);
    const ap = readManifestsFromText(out.files.get('lending/lender.yaml')!).find((o) => o.kind === 'AuthorizationPolicy') as KubeObject & Spec;
    expect(ap.spec.rules[1].from[0].source.principals).toEqual([`${TD}/ns/lending/sa/orchestrator`]);
    expect(translateCaller('spiffe://other.example/ns/lending/sa/orchestrator', TD).principals).toEqual([]);
  });

  test('a policy.json without a main.ts is refused with its path named', () => {
    mkdirSync(join(root, 'services', 'tools', 'stray'), { recursive: true });
    writeFileSync(join(root, 'services', 'tools', 'stray', 'policy.json'), JSON.stringify({ service: 'tools/stray', rules: [] }));
    expect(() => renderIstio(root, config)).toThrow(/services\/tools\/stray\/policy\.json has no main\.ts/);
  });

  test('a service without policy.json is refused with its path named', () => {
    addService('tools/unguarded', undefined);
    expect(() => renderIstio(root, config)).toThrow(/services\/tools\/unguarded\/main\.ts has no policy\.json/);
  });
});

function readManifestsFromText(text: string): KubeObject[] {
  const dir = mkdtempSync(join(tmpdir(), 'agentmesh-yaml-'));
  try {
    writeFileSync(join(dir, 'x.yaml'), text);
    return readManifests(join(dir, 'x.yaml'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
