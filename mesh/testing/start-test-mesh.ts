import type { ChildService } from './child-service.js';
import { freePorts, startAuth, startRegistry } from './core-services.js';
import { agentClient, MeshHome, toolClient } from './mesh-home.js';
import { TestMesh, type TestMeshOptions } from './test-mesh.js';

/**
 * Starts a secured mesh for a test: a dev CA and certificates in a fresh
 * temporary folder, the authorization server and the registry as processes
 * on loopback (their ports picked free), and the test caller's identity.
 * Call stop() in afterAll: it ends every process it started and removes the folder.
 */
export async function startTestMesh(options: TestMeshOptions = {}): Promise<TestMesh> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (err) {
      // A port found free may be taken by another program before a service binds it: choose again.
      if (attempt >= 3 || !/EADDRINUSE/.test(String(err))) throw err;
    }
  }
}

async function startOnce(options: TestMeshOptions): Promise<TestMesh> {
  const home = await MeshHome.create(options.trustDomain ?? 'agentmesh.test');
  const started: ChildService[] = [];
  try {
    const env = options.env ?? {};
    // The authorization server asks the registry whether agents are suspended, and the registry
    // checks tokens from the authorization server: both ports are chosen first, both start at once.
    home.addClient({ client_id: 'agentmesh/registry', scopes: [], audiences: [] });
    for (const name of options.agents ?? []) home.addClient(agentClient(name));
    for (const name of options.tools ?? []) home.addClient(toolClient(name));
    const [authPort, registryPort] = (await freePorts(2)) as [number, number];
    const [auth, registry] = await Promise.allSettled([
      startAuth(home, authPort, `127.0.0.1:${registryPort}`, env),
      startRegistry(home, registryPort, `https://127.0.0.1:${authPort}`, env),
    ] as const);
    if (auth.status === 'fulfilled') started.push(auth.value.process);
    if (registry.status === 'fulfilled') started.push(registry.value.process);
    if (auth.status === 'rejected') throw auth.reason;
    if (registry.status === 'rejected') throw registry.reason;
    return new TestMesh(home, auth.value, registry.value.process, registry.value.address, options);
  } catch (err) {
    // Whatever failed, nothing of this attempt is left behind: no process, no folder.
    for (const service of started) await service.stop().catch(() => undefined);
    home.remove();
    throw err;
  }
}
