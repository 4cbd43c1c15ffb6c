import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { joinLocalMesh } from './local-mesh-join.js';

describe('joinLocalMesh is for local development only', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'agentmesh-join-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('without AGENTMESH_HOME it does nothing and leaves the environment as it is', async () => {
    const env = { AGENTMESH_POLICY_FILE: 'policy.json' };
    expect(await joinLocalMesh('demo/triage', { env })).toBeUndefined();
    expect(env).toEqual({ AGENTMESH_POLICY_FILE: 'policy.json' });
  });

  test('a process configured by a launcher or an operator (AGENTMESH_TLS_CERT) is left alone', async () => {
    const env = { AGENTMESH_HOME: dir, AGENTMESH_TLS_CERT: '/run/tls.crt' };
    expect(await joinLocalMesh('demo/triage', { env })).toBeUndefined();
    expect(Object.keys(env)).toEqual(['AGENTMESH_HOME', 'AGENTMESH_TLS_CERT']);
  });

  test('an AGENTMESH_HOME with no running mesh stops startup with one line naming the variable', async () => {
    await expect(joinLocalMesh('demo/triage', { env: { AGENTMESH_HOME: dir } })).rejects.toThrow(
      `invalid configuration: AGENTMESH_HOME names no running local mesh (${join(dir, 'mesh.json')} does not exist: npm start first)`,
    );
    // A mesh file left behind by a launcher that is gone.
    writeFileSync(join(dir, 'mesh.json'), JSON.stringify({ launcherPid: 2 ** 22 + 1, services: [] }));
    await expect(joinLocalMesh('demo/triage', { env: { AGENTMESH_HOME: dir } })).rejects.toThrow(
      /AGENTMESH_HOME names a mesh that is not running \(launcher pid \d+ is gone\)/,
    );
  });
});
