import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { loadRenderConfig, renderIstio, writeRendered } from '../istio-render/index.js';
import { CliError } from './connection.js';
import { addManifestEntry } from './manifest-entry.js';
import { agentSource, policyOf, toolSource } from './service-templates.js';
import * as project from './standalone-templates.js';

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\/[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

type Kind = 'agent' | 'tool';

function checkName(service: string): void {
  if (!NAME.test(service))
    throw new CliError(
      `"${service}": a service name is namespace/name, lower-case letters, digits and dashes (e.g. lending/fraud-check)`,
    );
}

/** Formats generated TypeScript as the repository does (prettier, its .prettierrc), so `npm run lint` passes. */
async function formatted(root: string, source: string, parser = 'typescript'): Promise<string> {
  const options = (await resolveConfig(join(root, 'package.json'))) ?? {};
  return format(source, { ...options, parser });
}

const policyText = (root: string, kind: Kind, service: string) =>
  formatted(root, JSON.stringify(policyOf(kind, service)), 'json');

/** The result of a scaffold: files written (relative to where they were asked for) and what was rendered. */
export interface Scaffolded {
  files: string[];
  /** Whether istio/base was re-rendered (in-repo scaffolds of a checkout with istio/). */
  renderedIstio: boolean;
}

/**
 * `agentmesh new agent|tool ns/name`: writes services/<kind>s/<name>/{main.ts,policy.json}, adds
 * it to services/local-mesh.json (one line, the file's formatting kept) and re-renders istio/base
 * from the policies, so the manifests stay current.
 */
export async function scaffold(root: string, kind: Kind, service: string): Promise<Scaffolded> {
  checkName(service);
  const manifestFile = join(root, 'services', 'local-mesh.json');
  const manifestText = readFileSync(manifestFile, 'utf8');
  const manifest = JSON.parse(manifestText) as { services: { name: string }[] };
  if (manifest.services.some((s) => s.name === service))
    throw new CliError(`${service} already exists in services/local-mesh.json`);
  const dir = join(root, 'services', `${kind}s`, service.split('/')[1]!);
  if (existsSync(dir)) throw new CliError(`${relative(root, dir)} already exists; pick another name`);
  const target = { framework: '../../../mesh/index.js', standalone: false };
  const source = kind === 'agent' ? agentSource(service, target) : toolSource(service, target);
  mkdirSync(dir, { recursive: true });
  const main = join(dir, 'main.ts');
  const policy = join(dir, 'policy.json');
  writeFileSync(main, await formatted(root, source));
  writeFileSync(policy, await policyText(root, kind, service));
  writeFileSync(manifestFile, addManifestEntry(manifestText, { name: service, kind, entry: relative(root, main) }));
  const renderConfig = join(root, 'istio', 'render-config.json');
  const renderedIstio = existsSync(renderConfig);
  if (renderedIstio) writeRendered(renderIstio(root, loadRenderConfig(renderConfig)), join(root, 'istio', 'base'));
  return {
    files: [relative(root, main), relative(root, policy), 'services/local-mesh.json'],
    renderedIstio,
  };
}

/**
 * `agentmesh new agent|tool ns/name --dir <folder>`: a project of its own in <folder> (new or
 * empty) that depends on the framework (`framework`: an npm version range, a tarball or a
 * file: path) — main.ts, policy.json, a test with agentmesh/testing, a Dockerfile, a README.
 */
export async function scaffoldStandalone(
  root: string,
  kind: Kind,
  service: string,
  folder: string,
  framework: string,
): Promise<Scaffolded> {
  checkName(service);
  const dir = resolve(folder);
  if (existsSync(dir) && readdirSync(dir).length > 0)
    throw new CliError(`${folder} is not empty; pick a new or empty folder`);
  mkdirSync(join(dir, kind === 'agent' ? 'test' : '.'), { recursive: true });
  const target = { framework: 'agentmesh', standalone: true };
  const source = kind === 'agent' ? agentSource(service, target) : toolSource(service, target);
  const files: Record<string, string> = {
    'package.json': project.packageJson(service, kind, framework),
    'tsconfig.json': project.TSCONFIG,
    'main.ts': await formatted(root, source),
    'policy.json': await policyText(root, kind, service),
    Dockerfile: project.DOCKERFILE,
    '.dockerignore': project.DOCKERIGNORE,
    '.gitignore': project.GITIGNORE,
    'README.md': project.readme(service, kind),
    '.prettierrc.json': readFileSync(join(root, '.prettierrc.json'), 'utf8'),
  };
  if (kind === 'agent') files['test/agent.test.ts'] = await formatted(root, project.agentTest(service));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return { files: Object.keys(files), renderedIstio: false };
}

/** The default framework dependency of a standalone project: this checkout, as a file: path. */
export function checkoutDependency(root: string): string {
  return pathToFileURL(root)
    .href.replace(/^file:\/\//, 'file:')
    .replace(/\/$/, '');
}
