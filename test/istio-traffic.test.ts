// The rendered VirtualServices and DestinationRules against the wire
// contract: which calls the sidecars retry, route timeouts, canary subsets,
// pinning and weights, and the canary example of docs/deployment.md.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { kernelConfigSchema } from '../mesh/config/config.js';
import {
  grpcMethods,
  IDEMPOTENT_METHODS,
  methodsMatching,
  OPEN_PATHS,
  renderIstio,
  VERSION_HEADER,
} from '../devtools/istio-render/index.js';
import { RETRYABLE } from '../mesh/runtime/retry.js';
import { Code } from '../mesh/core/errors.js';
import { builds, config, of, type Spec } from './helpers/istio-render.js';
import { kustomizeBuild, type KubeObject } from './helpers/kustomize.js';
import { ROOT } from './helpers/processes.js';

const base = builds.base;
const methods = grpcMethods();

// Decided here, from the wire contract's comments, independently of the renderer's own list.
const REPEATABLE = [
  ...['SendTask', 'StreamTask', 'GetTask', 'SubscribeTask', 'ExplainTask', 'ListTasks', 'GetAgentCard'].map(
    (m) => `agentmesh.v1.AgentService/${m}`,
  ),
  ...['ListTools', 'InvokeTool'].map((m) => `agentmesh.v1.ToolService/${m}`),
  ...['GetAgent', 'ListAgents', 'GetToolService', 'ListToolServices', 'Discover', 'Watch'].map(
    (m) => `agentmesh.v1.RegistryService/${m}`,
  ),
  ...[
    'GetTask',
    'ListTasks',
    'SubscribeToTask',
    'GetExtendedAgentCard',
    'GetTaskPushNotificationConfig',
    'ListTaskPushNotificationConfigs',
  ].map((m) => `lf.a2a.v1.A2AService/${m}`),
  // An upsert of the whole card (the same card again changes nothing).
  'agentmesh.v1.RegistryService/RegisterExternalAgent',
  'agentmesh.v1.RegistryService/RegisterExternalTool',
  ...['Check', 'List', 'Watch'].map((m) => `grpc.health.v1.Health/${m}`),
  'grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
  'grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo',
];
const NOT_REPEATABLE = [
  'agentmesh.v1.AgentService/CancelTask',
  'agentmesh.v1.AgentService/ProvideInput',
  // A message on a task waiting for input answers it: a repeat would be a second answer.
  ...[
    'SendMessage',
    'SendStreamingMessage',
    'CancelTask',
    'CreateTaskPushNotificationConfig',
    'DeleteTaskPushNotificationConfig',
  ].map((m) => `lf.a2a.v1.A2AService/${m}`),
  ...['RegisterAgent', 'RegisterTool', 'Heartbeat', 'Deregister', 'SetLifecycle'].map(
    (m) => `agentmesh.v1.RegistryService/${m}`,
  ),
];
/** Envoy conditions meaning the request never reached the service. */
const UNSENT = ['connect-failure', 'refused-stream'];
const allowedRetries = (method: string) => (REPEATABLE.includes(method) ? [...UNSENT, 'unavailable'] : UNSENT);

type Route = {
  name: string;
  match?: { uri?: { exact: string }; headers?: Record<string, { exact: string }> }[];
  route: { destination: { subset: string }; weight?: number }[];
  timeout: string;
  retries: { retryOn: string };
};

/** The route Istio picks for a request: the first whose match (any of its entries) fits, a route without match fitting all. */
function routeFor(vs: KubeObject & Spec, path: string, version?: string): Route | undefined {
  return (vs.spec.http as Route[]).find(
    (r) =>
      !r.match ||
      r.match.some(
        (m) =>
          (!m.uri || m.uri.exact === path) &&
          Object.entries(m.headers ?? {}).every(([h, v]) => h === VERSION_HEADER && v.exact === version),
      ),
  );
}

const grpcVirtualServices = of('VirtualService', base).filter((vs) =>
  vs.spec.http.some((r: Route) => r.name.startsWith('unary')),
);
const unknownPath = '/agentmesh.v1.AgentService/NotYetInTheContract';

describe('mesh retries never repeat a call that may have acted', () => {
  test('every method of the wire contract is classified by this test, and the renderer agrees', () => {
    expect(methods.map((m) => m.name).sort()).toEqual([...REPEATABLE, ...NOT_REPEATABLE].sort());
    expect([...IDEMPOTENT_METHODS].sort()).toEqual([...REPEATABLE].sort());
  });

  test('for every route a request can take, the retry conditions are a subset of what its method allows', () => {
    expect(grpcVirtualServices.length).toBeGreaterThan(3);
    for (const vs of grpcVirtualServices) {
      for (const path of [...methods.map((m) => m.path), unknownPath]) {
        for (const version of [undefined, 'v1', 'v2']) {
          const route = routeFor(vs, path, version);
          const where = { vs: vs.metadata.name, path, version, route: route?.name };
          expect({ ...where, routed: route !== undefined }).toEqual({ ...where, routed: true });
          const retryOn = route!.retries.retryOn.split(',');
          const extra = retryOn.filter((c) => !allowedRetries(path.slice(1)).includes(c));
          expect({ ...where, extra }).toEqual({ ...where, extra: [] });
          if (version) expect(route!.route.map((d) => d.destination.subset)).toEqual([version]);
        }
      }
    }
  });

  test('never on deadline-exceeded or resource-exhausted; repeatable methods a service serves are retried on unavailable', () => {
    for (const vs of of('VirtualService', base))
      for (const r of vs.spec.http as Route[])
        expect(r.retries.retryOn).not.toMatch(/deadline-exceeded|resource-exhausted|reset|5xx/);
    for (const vs of grpcVirtualServices) {
      const served = (vs.spec.http as Route[]).flatMap((r) =>
        (r.match ?? []).map((m) => m.uri?.exact).filter((p): p is string => !!p),
      );
      for (const p of served.filter((x) => REPEATABLE.includes(x.slice(1))))
        expect(routeFor(vs, p)!.retries.retryOn.split(',')).toContain('unavailable');
    }
    // The one code the sidecars retry is one the kernel's retry policy treats as retryable too.
    expect(RETRYABLE.has(Code.UNAVAILABLE)).toBe(true);
  });

  test("the auth server's routes retry only unsent requests and 503s (its endpoints are reads and token minting)", () => {
    const auth = of('VirtualService', base).find((vs) => vs.metadata.name === 'auth')!;
    for (const r of auth.spec.http as Route[])
      for (const c of r.retries.retryOn.split(',')) expect([...UNSENT, '503']).toContain(c);
  });
});

describe('timeouts and canary routing', () => {
  test("unary calls time out at the kernel's default deadline; server streams a service serves have no timeout", () => {
    const kernel = kernelConfigSchema.parse({});
    for (const s of renderIstio(ROOT, config).services.filter((x) => x.kind === 'grpc')) {
      const vs = grpcVirtualServices.find(
        (v) => v.metadata.namespace === s.namespace && v.metadata.name === s.account,
      )!;
      const served = new Set(
        [...s.policy!.rules.flatMap((r) => r.methods), ...OPEN_PATHS.map((p) => p.slice(1))]
          .flatMap((p) => methodsMatching(p, methods))
          .map((m) => m.name),
      );
      for (const m of methods) {
        const where = { service: s.name, method: m.name };
        const timeout =
          served.has(m.name) && m.serverStreaming ? '0s' : `${kernel.AGENTMESH_DEFAULT_DEADLINE_MS / 1000}s`;
        expect({ ...where, timeout: routeFor(vs, m.path)!.timeout }).toEqual({ ...where, timeout });
      }
    }
  });

  test('a subset per version, a header-pinned route per version and group, weights that add up to 100', () => {
    for (const vs of of('VirtualService', base)) {
      const dr = of('DestinationRule', base).find(
        (d) => d.metadata.namespace === vs.metadata.namespace && d.metadata.name === vs.metadata.name,
      )!;
      const subsets = dr.spec.subsets.map((s: any) => s.name);
      expect(subsets).toEqual(['v1', 'v2']);
      const weighted = (vs.spec.http as Route[]).filter((r) => r.name.endsWith('-weighted'));
      for (const w of weighted) {
        const group = w.name.replace(/-weighted$/, '');
        for (const v of subsets)
          expect((vs.spec.http as Route[]).find((r) => r.name === `${group}-${v}-pinned`)!.route).toEqual([
            { destination: expect.objectContaining({ subset: v }) },
          ]);
        expect(w.route.reduce((n, d) => n + d.weight!, 0)).toBe(100);
      }
    }
  });

  test("docs/deployment.md's canary patch shifts every weighted route of the registry and nothing else", () => {
    const doc = readFileSync(join(ROOT, 'docs', 'deployment.md'), 'utf8');
    const section = doc.slice(doc.indexOf('## Canary releases'), doc.indexOf('## Rotating secrets'));
    const [, indent, block] = /( *)```yaml\n([\s\S]*?)\n *```/.exec(section)!;
    const patch = block!
      .split('\n')
      .map((l) => (l.startsWith(indent!) ? l.slice(indent!.length) : l))
      .join('\n');
    expect(patch).toMatch(/^patches:/);
    const dir = mkdtempSync(join(tmpdir(), 'agentmesh-canary-'));
    try {
      writeFileSync(
        join(dir, 'kustomization.yaml'),
        `resources:\n  - ${relative(dir, join(ROOT, 'istio', 'base'))}\n${patch}`,
      );
      const registry = kustomizeBuild(dir).find(
        (o) => o.kind === 'VirtualService' && o.metadata.name === 'registry',
      ) as KubeObject & Spec;
      for (const r of registry.spec.http as Route[]) {
        const weights = r.route.map((d) => d.weight);
        expect({ route: r.name, weights }).toEqual({
          route: r.name,
          weights: r.name.endsWith('-weighted') ? [90, 10] : [undefined],
        });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
