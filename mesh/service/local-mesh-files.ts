import { readFileSync } from 'node:fs';
import { processAlive, writePrivateFile, type MeshFile } from '../config/index.js';
import { matchesSpiffePattern, spiffeIdOfService, type ServicePolicy } from '../security/index.js';
import { withFileLock } from './local-mesh-lock.js';

/** An OAuth2 client registration as the local authorization server reads it from clients.json. */
interface ClientEntry {
  client_id: string;
  auth?: { method: string; [field: string]: unknown };
  audiences?: string[];
  /** The process that joined under this client (joined clients only; the auth server ignores it). */
  joined_pid?: number;
  [field: string]: unknown;
}

/** A mesh.json service entry; joined ones carry the pid of the process that joined. */
export type MeshEntry = MeshFile['services'][number] & { pid?: number };
type JoinedMeshFile = Omit<MeshFile, 'services'> & { services: MeshEntry[] };

const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;
const writeJson = (file: string, data: unknown) => writePrivateFile(file, `${JSON.stringify(data, null, 2)}\n`);

/** Drops a client and its name from every other client's audiences. */
function withoutClient(clients: ClientEntry[], name: string): ClientEntry[] {
  return clients
    .filter((c) => c.client_id !== name)
    .map((c) => (c.audiences?.includes(name) ? { ...c, audiences: c.audiences.filter((a) => a !== name) } : c));
}

/** Clients left behind by joined processes that are gone (killed before their exit handler ran). */
function pruneDeadClients(clients: ClientEntry[]): ClientEntry[] {
  const dead = clients.filter((c) => c.joined_pid !== undefined && !processAlive(c.joined_pid));
  return dead.reduce((rest, c) => withoutClient(rest, c.client_id), clients);
}

/** Why `name` cannot be joined under, given its current client registration; undefined if it can. */
function clientConflict(existing: ClientEntry | undefined, name: string): string | undefined {
  if (!existing) return undefined;
  if (existing.joined_pid === undefined)
    return `${name} is a service the local mesh runs itself (${existing.auth?.method ?? 'its own'} client in clients.json)`;
  if (existing.joined_pid !== process.pid) return `${name} is joined already by running process ${existing.joined_pid}`;
  return undefined;
}

/**
 * Registers a joining workload in the local mesh's clients.json, under its lock: its own
 * client with a private-key JWT and this process's pid, tokens for the services of the mesh,
 * and its name added to the audiences of the clients its policy lets call it with scopes
 * (the CLI and the console, usually). Entries of joined processes that are gone are pruned.
 * Refuses, with one line, a name the mesh runs itself or that a live process joined under.
 */
export function registerLocalClient(
  file: string,
  mesh: MeshFile,
  joining: { service: string; kind: 'agent' | 'tool'; publicKeyPem: string; policy: ServicePolicy; policyFile: string },
): void {
  withFileLock(file, () => {
    const clients = pruneDeadClients(readJson<ClientEntry[]>(file));
    const conflict = clientConflict(
      clients.find((c) => c.client_id === joining.service),
      joining.service,
    );
    if (conflict) throw new Error(`cannot join the local mesh: ${conflict}`);
    // Only rules that need a token widen audiences: a rule without scopes (GetAgentCard for
    // ns/*/sa/*) must not let every client obtain tokens addressed to the joiner.
    const callers = joining.policy.rules.filter((r) => r.scopes.length > 0).flatMap((r) => r.callers);
    const others = withoutClient(clients, joining.service);
    for (const c of others) {
      const id = spiffeIdOfService(mesh.trustDomain, c.client_id);
      if (callers.some((p) => matchesSpiffePattern(p, id))) c.audiences = [...(c.audiences ?? []), joining.service];
    }
    const scopes = ['registry.register', 'registry.read'];
    if (joining.kind === 'agent') scopes.push('tools.invoke', 'task.read', 'task.write');
    others.push({
      client_id: joining.service,
      auth: { method: 'private_key_jwt', public_key_pem: joining.publicKeyPem, alg: 'ES256' },
      scopes,
      // Each callee's own policy still decides; the audiences only bound where its tokens are usable.
      audiences: mesh.services
        .filter((s) => s.kind !== 'auth' && s.kind !== 'console' && s.name !== joining.service)
        .map((s) => s.name),
      policy_file: joining.policyFile,
      ...(joining.kind === 'agent' ? { token_exchange: true } : {}),
      joined_pid: process.pid,
    });
    writeJson(file, others);
  });
}

/** Takes this process's joined client out of clients.json again (at exit, or when joining failed). */
export function removeLocalClient(file: string, name: string): void {
  withFileLock(file, () => {
    const clients = readJson<ClientEntry[]>(file);
    if (!clients.some((c) => c.client_id === name && c.joined_pid === process.pid)) return;
    writeJson(file, withoutClient(clients, name));
  });
}

/** Why `name` cannot be joined under, given the services mesh.json lists; undefined if it can. */
export function meshConflict(services: MeshEntry[], name: string): string | undefined {
  const existing = services.find((s) => s.name === name);
  if (!existing) return undefined;
  if (existing.pid === undefined) return `${name} is a service the local mesh runs itself (listed in mesh.json)`;
  if (existing.pid !== process.pid && processAlive(existing.pid))
    return `${name} is joined already by running process ${existing.pid}`;
  return undefined;
}

/**
 * Lists a joined service in mesh.json (with this process's pid), so the CLI and the console find
 * it by name; prunes entries of joined processes that are gone. Refuses, with one line, a name
 * the mesh runs itself or that a live process joined under.
 */
export function addToMeshFile(file: string, entry: MeshFile['services'][number]): void {
  withFileLock(file, () => {
    const mesh = readJson<JoinedMeshFile>(file);
    const live = mesh.services.filter((s) => s.pid === undefined || processAlive(s.pid));
    const conflict = meshConflict(live, entry.name);
    if (conflict) throw new Error(`cannot join the local mesh: ${conflict}`);
    mesh.services = [...live.filter((s) => s.name !== entry.name), { ...entry, pid: process.pid }];
    writeJson(file, mesh);
  });
}

/** Takes this process's service out of mesh.json again, if the mesh still runs and still lists it. */
export function removeFromMeshFile(file: string, name: string): void {
  withFileLock(file, () => {
    const mesh = readJson<JoinedMeshFile>(file);
    if (!mesh.services.some((s) => s.name === name && s.pid === process.pid)) return;
    mesh.services = mesh.services.filter((s) => s.name !== name);
    writeJson(file, mesh);
  });
}
