import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { MeshFile } from '../config/index.js';
import { matchesSpiffePattern, spiffeIdOfService, type ServicePolicy } from '../security/index.js';

/** An OAuth2 client registration as the local authorization server reads it from clients.json. */
interface ClientEntry {
  client_id: string;
  audiences?: string[];
  [field: string]: unknown;
}

/** Writes a file readable by this user only, atomically: readers see the old or the new content, never half. */
export function writePrivateFile(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

/**
 * Registers (or re-registers) a joining workload in the local mesh's
 * clients.json: its own client with a private-key JWT, tokens for the
 * services of the mesh, and its name added to the audiences of every client
 * its policy lets call it (the CLI and the console, usually), so their
 * tokens are accepted by it. The auth server reloads the file on change.
 */
export function registerLocalClient(
  file: string,
  mesh: MeshFile,
  joining: { service: string; kind: 'agent' | 'tool'; publicKeyPem: string; policy: ServicePolicy },
): void {
  const clients = JSON.parse(readFileSync(file, 'utf8')) as ClientEntry[];
  const callers = joining.policy.rules.flatMap((r) => r.callers);
  const others = clients.filter((c) => c.client_id !== joining.service);
  for (const c of others) {
    const id = spiffeIdOfService(mesh.trustDomain, c.client_id);
    const audiences = c.audiences ?? [];
    if (callers.some((p) => matchesSpiffePattern(p, id)) && !audiences.includes(joining.service))
      c.audiences = [...audiences, joining.service];
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
    ...(joining.kind === 'agent' ? { token_exchange: true } : {}),
  });
  writePrivateFile(file, `${JSON.stringify(others, null, 2)}\n`);
}

/** Adds (or replaces) a service in mesh.json, so the CLI and the console find it by name. */
export function addToMeshFile(file: string, entry: MeshFile['services'][number]): void {
  const mesh = JSON.parse(readFileSync(file, 'utf8')) as MeshFile;
  mesh.services = [...mesh.services.filter((s) => s.name !== entry.name), entry];
  writePrivateFile(file, `${JSON.stringify(mesh, null, 2)}\n`);
}

/** Takes a service out of mesh.json again, if the mesh still runs and still lists it at that address. */
export function removeFromMeshFile(file: string, name: string, address: string): void {
  if (!existsSync(file)) return;
  const mesh = JSON.parse(readFileSync(file, 'utf8')) as MeshFile;
  if (!mesh.services.some((s) => s.name === name && s.address === address)) return;
  mesh.services = mesh.services.filter((s) => s.name !== name);
  writePrivateFile(file, `${JSON.stringify(mesh, null, 2)}\n`);
}
