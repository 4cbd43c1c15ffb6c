import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { parsePolicy, type ServicePolicy } from '../../mesh/index.js';

/** A deployable process found under services/. */
export interface DeployableService {
  /** Its folder under services/, e.g. "registry" or "tools/calculator": the image's service argument. */
  path: string;
  /** "namespace/name". */
  name: string;
  namespace: string;
  /** The Kubernetes name: Deployment, Service and ServiceAccount (its SPIFFE identity's `sa`). */
  account: string;
  /** grpc: a mesh service with a policy; oauth: the HTTP authorization server (services/auth); console: the web console, an external client not rendered. */
  kind: 'grpc' | 'oauth' | 'console';
  /** The policy the service enforces, `{trust_domain}` substituted (grpc only). */
  policy?: ServicePolicy;
  /** A tool service serving MCP too (`"mcp": true` in services/local-mesh.json, the local mesh's switch). */
  mcp?: boolean;
}

/** The authorization server is the one process that speaks HTTP, not gRPC, and has no policy file. */
const AUTH_PATH = 'auth';
const AUTH_NAME = 'agentmesh/auth';
/** The web console serves HTTPS to people and calls the mesh as an external client (render-config externalClients). */
const CONSOLE_PATH = 'console';

function walk(dir: string, found: (file: string) => void): void {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== 'node_modules') walk(path, found);
    else if (entry.isFile()) found(path);
  }
}

/** The services `manifest` (services/local-mesh.json) marks `"mcp": true`; none without the file. */
function servingMcp(manifest: string): Set<string> {
  if (!existsSync(manifest)) return new Set();
  const { services } = JSON.parse(readFileSync(manifest, 'utf8')) as { services?: { name: string; mcp?: boolean }[] };
  return new Set((services ?? []).filter((s) => s.mcp === true).map((s) => s.name));
}

/**
 * Every service under `servicesDir`: each folder with a main.ts is one, named
 * by its policy.json's `service` ("namespace/name"); services/auth is the
 * authorization server. A main.ts without a policy.json is refused: it
 * could not be given an AuthorizationPolicy, and deny-by-default would make
 * it unreachable without anyone noticing.
 */
export function discoverServices(servicesDir: string, trustDomain: string): DeployableService[] {
  const mains: string[] = [];
  const policies: string[] = [];
  const folderOf = (file: string, leaf: string) =>
    relative(servicesDir, file)
      .slice(0, -leaf.length - 1)
      .split(sep)
      .join('/');
  walk(servicesDir, (file) => {
    if (file.endsWith(`${sep}main.ts`)) mains.push(folderOf(file, 'main.ts'));
    if (file.endsWith(`${sep}policy.json`)) policies.push(folderOf(file, 'policy.json'));
  });
  const mcpServices = servingMcp(join(servicesDir, 'local-mesh.json'));
  const orphan = policies.find((p) => !mains.includes(p));
  if (orphan) throw new Error(`services/${orphan}/policy.json has no main.ts beside it: it protects no process`);
  const services = mains.map((path): DeployableService => {
    const policyFile = join(servicesDir, path, 'policy.json');
    if (!existsSync(policyFile)) {
      if (path === AUTH_PATH) return { path, name: AUTH_NAME, namespace: 'agentmesh', account: 'auth', kind: 'oauth' };
      if (path === CONSOLE_PATH)
        return { path, name: 'agentmesh/console', namespace: 'agentmesh', account: 'console', kind: 'console' };
      throw new Error(
        `services/${path}/main.ts has no policy.json beside it: every mesh service needs one to be deployed`,
      );
    }
    let policy: ServicePolicy;
    try {
      policy = parsePolicy(JSON.parse(readFileSync(policyFile, 'utf8')), trustDomain);
    } catch (err) {
      throw new Error(`services/${path}/policy.json: ${(err as Error).message}`, { cause: err });
    }
    const [namespace, account] = policy.service.split('/') as [string, string];
    const mcp = mcpServices.has(policy.service) ? { mcp: true } : {};
    return { path, name: policy.service, namespace, account, kind: 'grpc', policy, ...mcp };
  });
  const byName = new Map<string, string>();
  for (const s of services) {
    const other = byName.get(s.name);
    if (other) throw new Error(`services/${other} and services/${s.path} both claim the service name ${s.name}`);
    byName.set(s.name, s.path);
  }
  return services.sort((a, b) => a.name.localeCompare(b.name));
}
