// A small kustomize build for the tests: no maintained kustomize runs from npm
// (the real one is a Go binary, which cannot be installed here), so this
// implements exactly the subset istio/ uses — resources (files and folders),
// images, and patches (RFC 6902 lists with add/replace/remove/test, or
// strategic-merge maps without lists) selected by target kind/name and an
// equality labelSelector — and refuses anything else, so an overlay
// that needs more fails here instead of being checked wrongly.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';

/** A parsed Kubernetes object. */
export type KubeObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } } & Record<
  string,
  unknown
>;

const KNOWN = new Set(['apiVersion', 'kind', 'resources', 'images', 'patches']);

/** Parses every document of a YAML file (empty documents skipped). */
export function readManifests(file: string): KubeObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => {
      if (d.errors.length) throw new Error(`${file}: ${d.errors[0]!.message}`);
      return d.toJS() as KubeObject | null;
    })
    .filter((o): o is KubeObject => o !== null);
}

type Op = { op: 'add' | 'replace' | 'remove' | 'test'; path: string; value?: unknown };

function applyJsonPatch(target: Record<string, unknown>, ops: Op[], where: string): void {
  for (const { op, path, value } of ops) {
    const keys = path
      .split('/')
      .slice(1)
      .map((k) => k.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = keys.pop()!;
    let node: unknown = target;
    for (const k of keys) {
      node = (node as Record<string, unknown>)[k];
      if (node === undefined || node === null) throw new Error(`${where}: path ${path} does not exist`);
    }
    const parent = node as Record<string, unknown> | unknown[];
    if (op === 'test') {
      const actual = (parent as Record<string, unknown>)[last];
      if (JSON.stringify(actual) !== JSON.stringify(value))
        throw new Error(`${where}: test of ${path} failed: ${JSON.stringify(actual)} is not ${JSON.stringify(value)}`);
      continue;
    }
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (op === 'add') parent.splice(i, 0, value);
      else if (i >= parent.length) throw new Error(`${where}: path ${path} does not exist`);
      else if (op === 'replace') parent[i] = value;
      else parent.splice(i, 1);
    } else {
      if (op !== 'add' && !(last in parent)) throw new Error(`${where}: path ${path} does not exist`);
      if (op === 'remove') delete parent[last];
      else parent[last] = value;
    }
  }
}

function mergeMaps(target: Record<string, unknown>, patch: Record<string, unknown>, where: string): void {
  for (const [k, v] of Object.entries(patch)) {
    if (Array.isArray(v))
      throw new Error(`${where}: strategic-merge lists are not supported by the test build; use an RFC 6902 patch`);
    if (v && typeof v === 'object' && target[k] && typeof target[k] === 'object')
      mergeMaps(target[k] as Record<string, unknown>, v as Record<string, unknown>, where);
    else if (v === null) delete target[k];
    else target[k] = v;
  }
}

/** Builds a kustomization folder into its objects, as `kustomize build <dir>` would for the supported subset. */
export function kustomizeBuild(dir: string): KubeObject[] {
  const file = join(dir, 'kustomization.yaml');
  const k = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  for (const key of Object.keys(k))
    if (!KNOWN.has(key)) throw new Error(`${file}: field ${key} is not supported by the test build`);
  const objects: KubeObject[] = [];
  for (const r of (k.resources as string[] | undefined) ?? []) {
    const path = join(dir, r);
    if (!existsSync(path)) throw new Error(`${file}: resource ${r} does not exist`);
    objects.push(...(statSync(path).isDirectory() ? kustomizeBuild(path) : readManifests(path)));
  }
  for (const p of (k.patches as
    | { path?: string; patch?: string; target?: { kind?: string; name?: string; labelSelector?: string } }[]
    | undefined) ?? []) {
    const text = p.path ? readFileSync(join(dir, p.path), 'utf8') : p.patch;
    if (!text) throw new Error(`${file}: a patch needs path or patch`);
    const body = parse(text) as unknown;
    const smp = Array.isArray(body) ? undefined : (body as KubeObject);
    const target = p.target ?? (smp ? { kind: smp.kind, name: smp.metadata?.name } : undefined);
    if (!target?.kind) throw new Error(`${file}: an RFC 6902 patch needs a target kind`);
    const selector = (target as { labelSelector?: string }).labelSelector?.split(',').map((term) => {
      const [key, value, more] = term.split('=');
      if (!key || value === undefined || more !== undefined)
        throw new Error(`${file}: labelSelector ${term}: only key=value terms are supported by the test build`);
      return [key.trim(), value.trim()] as const;
    });
    const labelled = (o: KubeObject) =>
      (selector ?? []).every(([k, v]) => (o.metadata as { labels?: Record<string, string> }).labels?.[k] === v);
    const hits = objects.filter(
      (o) =>
        o.kind === target.kind &&
        (!target.name || new RegExp(`^(?:${target.name})$`).test(o.metadata.name)) &&
        labelled(o),
    );
    if (!hits.length) throw new Error(`${file}: patch target ${target.kind}/${target.name ?? '*'} matches nothing`);
    for (const o of hits) {
      if (smp) {
        const { apiVersion: _a, kind: _k, metadata, ...rest } = smp;
        const { name: _n, ...meta } = metadata ?? { name: '' };
        mergeMaps(o, { ...rest, ...(Object.keys(meta).length ? { metadata: meta } : {}) }, file);
      } else applyJsonPatch(o, body as Op[], `${file} on ${o.kind}/${o.metadata.name}`);
    }
  }
  for (const img of (k.images as { name: string; newName?: string; newTag?: string; digest?: string }[] | undefined) ??
    []) {
    for (const o of objects) {
      const containers =
        (o.spec as { template?: { spec?: { containers?: { image: string }[] } } } | undefined)?.template?.spec
          ?.containers ?? [];
      for (const c of containers) {
        const name = c.image.replace(/[@:][^/]*$/, '');
        if (name !== img.name) continue;
        c.image = `${img.newName ?? name}${img.digest ? `@${img.digest}` : `:${img.newTag ?? 'latest'}`}`;
      }
    }
  }
  return objects;
}
