import { freePort, startAuth, startRegistry } from './core-services.js';
import { MeshHome } from './mesh-home.js';
import { TestMesh, type TestMeshOptions } from './test-mesh.js';

/**
 * Starts a secured mesh for a test: a dev CA and certificates in a fresh
 * temporary folder, the authorization server and the registry as processes
 * on loopback (their ports picked free), and the test caller's identity.
 * Call stop() in afterAll: it ends every process it started and removes the folder.
 */
export async function startTestMesh(options: TestMeshOptions = {}): Promise<TestMesh> {
  const home = await MeshHome.create(options.trustDomain ?? 'agentmesh.test');
  const env = options.env ?? {};
  // The authorization server asks the registry whether agents are suspended, and the registry
  // checks tokens from the authorization server: the registry's port is chosen first.
  home.addClient({ client_id: 'agentmesh/registry', scopes: [], audiences: [] });
  const registryAddress = `127.0.0.1:${await freePort()}`;
  let auth: Awaited<ReturnType<typeof startAuth>> | undefined;
  try {
    auth = await startAuth(home, 0, registryAddress, env);
    const registry = await startRegistry(home, Number(registryAddress.split(':')[1]), auth.issuer, env);
    return new TestMesh(home, auth, registry.process, registry.address, options);
  } catch (err) {
    await auth?.process.stop();
    home.remove();
    throw err;
  }
}
