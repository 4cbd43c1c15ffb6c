// Shared setup of the istio/ tests: the committed render settings and
// builds, schema validation, renderings of other settings into a temporary
// kustomization, and the pods and environment the Deployments describe.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Service, ServiceAccount } from 'kubernetes-models/v1';
import { DestinationRule, VirtualService } from '@kubernetes-models/istio/networking.istio.io/v1beta1';
import { AuthorizationPolicy, RequestAuthentication } from '@kubernetes-models/istio/security.istio.io/v1';
import { PeerAuthentication } from '@kubernetes-models/istio/security.istio.io/v1beta1';
import {
  loadRenderConfig,
  renderIstio,
  type RenderConfig,
  type RenderedIstio,
} from '../../devtools/istio-render/index.js';
import { kustomizeBuild, type KubeObject } from './kustomize.js';
import type { Pod } from './network-policy.js';
import { ROOT } from './processes.js';

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

/** Validates one object against its Kubernetes or Istio schema; throws naming it. */
export function validate(o: KubeObject): void {
  const Model = MODELS[`${o.apiVersion}/${o.kind}`];
  if (!Model) throw new Error(`no schema for ${o.apiVersion} ${o.kind} (${o.metadata.name})`);
  try {
    new Model(o as never).validate();
  } catch (err) {
    throw new Error(`${o.kind} ${o.metadata.namespace}/${o.metadata.name}: ${(err as Error).message}`, { cause: err });
  }
}

/** The committed render settings. */
export const config: RenderConfig = loadRenderConfig(join(ROOT, 'istio', 'render-config.json'));

/** Builds of istio/base and both overlays. */
export const builds = {
  base: kustomizeBuild(join(ROOT, 'istio', 'base')),
  dev: kustomizeBuild(join(ROOT, 'istio', 'overlays', 'dev')),
  prod: kustomizeBuild(join(ROOT, 'istio', 'overlays', 'prod')),
};

/** A parsed object with its spec, for reading fields the tests check. */
export type Spec = { spec: any };

/** The objects of one kind. */
export const of = <T = Spec>(kind: string, objects: KubeObject[]) =>
  objects.filter((o) => o.kind === kind) as unknown as (KubeObject & T)[];

/** Renders the tree at `root` with `settings` and builds the result as kustomize would. */
export function renderAndBuild(
  settings: RenderConfig,
  root = ROOT,
): { rendered: RenderedIstio; objects: KubeObject[] } {
  const rendered = renderIstio(root, settings);
  const dir = mkdtempSync(join(tmpdir(), 'agentmesh-istio-'));
  try {
    for (const [path, text] of rendered.files) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    return { rendered, objects: kustomizeBuild(dir) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A namespace's labels as the API server sets them (kubernetes.io/metadata.name) plus those rendered. */
export function namespaceLabels(namespace: string, objects: KubeObject[]): Record<string, string> {
  const rendered = objects.find((o) => o.kind === 'Namespace' && o.metadata.name === namespace)?.metadata as
    { labels?: Record<string, string> } | undefined;
  return { ...rendered?.labels, 'kubernetes.io/metadata.name': namespace };
}

/** The pod a Deployment runs. */
export function podOf(d: KubeObject & Spec, objects: KubeObject[]): Pod {
  const namespace = d.metadata.namespace!;
  return { namespace, namespaceLabels: namespaceLabels(namespace, objects), labels: d.spec.template.metadata.labels };
}

/** The app container's environment: its ConfigMaps (envFrom) overlaid by its own env; valueFrom entries as `secret:<name>/<key>`. */
export function envOf(d: KubeObject & Spec, objects: KubeObject[]): Record<string, string> {
  const container = d.spec.template.spec.containers[0];
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    const cm = of<{ data: Record<string, string> }>('ConfigMap', objects).find(
      (c) => c.metadata.namespace === d.metadata.namespace && c.metadata.name === from.configMapRef.name,
    );
    Object.assign(env, cm?.data);
  }
  for (const e of container.env ?? [])
    env[e.name] = e.valueFrom ? `secret:${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}` : e.value;
  return env;
}
