import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa } from '../security/index.js';
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

  test.each([
    [{ AGENTMESH_TLS_CERT: '/run/tls.crt' }, 'AGENTMESH_TLS_CERT is set (configured already)'],
    [{ AGENTMESH_TRANSPORT: 'istio' }, 'AGENTMESH_TRANSPORT is istio'],
    [{ KUBERNETES_SERVICE_HOST: '10.0.0.1' }, 'KUBERNETES_SERVICE_HOST is set (running in Kubernetes)'],
    [{ NODE_ENV: 'production' }, 'NODE_ENV is production'],
  ])('on a platform or configured already (%o) it is left alone, saying why in one line', async (set, why) => {
    const env = { AGENTMESH_HOME: dir, ...set };
    const lines: string[] = [];
    expect(await joinLocalMesh('demo/triage', { env, log: (l) => lines.push(l) })).toBeUndefined();
    expect(env).toEqual({ AGENTMESH_HOME: dir, ...set });
    expect(lines).toEqual([`agentmesh: not joining the local mesh in AGENTMESH_HOME (${dir}): ${why}`]);
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

describe('joining a running local mesh', () => {
  let home: string;
  let policyFile: string;
  const clients = () => readFileSync(join(home, 'clients.json'), 'utf8');
  const meshJson = () => readFileSync(join(home, 'mesh.json'), 'utf8');
  const CLIENTS = JSON.stringify([
    { client_id: 'agentmesh/cli', auth: { method: 'client_secret_basic', secret_path: 'p' }, audiences: [] },
  ]);

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'agentmesh-join-'));
    const ca = await createCa('agentmesh.local');
    mkdirSync(join(home, 'certs'));
    writeFileSync(join(home, 'certs', 'ca.crt'), ca.certPem);
    writeFileSync(join(home, 'certs', 'ca.key'), ca.keyPem);
    const registry = { name: 'agentmesh/registry', kind: 'registry', address: '127.0.0.1:1', spiffeId: 's', log: 'l' };
    writeFileSync(
      join(home, 'mesh.json'),
      JSON.stringify({
        launcherPid: process.pid,
        trustDomain: 'agentmesh.local',
        ca: join(home, 'certs', 'ca.crt'),
        issuer: 'https://127.0.0.1:1',
        // Nothing listens there: the authorization server never accepts the client.
        tokenUrl: 'https://127.0.0.1:1/token',
        services: [registry],
      }),
    );
    policyFile = join(home, 'policy.json');
    const callers = ['spiffe://{trust_domain}/ns/agentmesh/sa/cli'];
    writeFileSync(
      policyFile,
      JSON.stringify({ service: 'demo/triage', rules: [{ methods: ['*'], callers, scopes: ['task.write'] }] }),
    );
  });
  beforeEach(() => {
    writeFileSync(join(home, 'clients.json'), CLIENTS);
    rmSync(join(home, 'joined'), { recursive: true, force: true });
  });
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  test('a variable it needs set to something else stops it with one line naming it, and nothing is changed', async () => {
    const env = { AGENTMESH_HOME: home, AGENTMESH_OAUTH_ISSUER: 'https://idp.example.com' };
    await expect(joinLocalMesh('demo/triage', { env, policyFile })).rejects.toThrow(
      'invalid configuration: AGENTMESH_OAUTH_ISSUER is set to https://idp.example.com, but joining the local mesh in AGENTMESH_HOME needs https://127.0.0.1:1: unset one of them',
    );
    expect(env).toEqual({ AGENTMESH_HOME: home, AGENTMESH_OAUTH_ISSUER: 'https://idp.example.com' });
    expect(clients()).toBe(CLIENTS);
  });

  test('a name the mesh runs itself is refused with one line', async () => {
    await expect(joinLocalMesh('agentmesh/registry', { env: { AGENTMESH_HOME: home }, policyFile })).rejects.toThrow(
      'cannot join the local mesh: agentmesh/registry is a service the local mesh runs itself',
    );
  });

  test('a name a running process joined under is refused before any of its files is touched', async () => {
    const running = [...JSON.parse(CLIENTS), { client_id: 'demo/triage', joined_pid: process.ppid }];
    writeFileSync(join(home, 'clients.json'), JSON.stringify(running));
    await expect(joinLocalMesh('demo/triage', { env: { AGENTMESH_HOME: home }, policyFile })).rejects.toThrow(
      `cannot join the local mesh: demo/triage is joined already by running process ${process.ppid}`,
    );
    expect(existsSync(join(home, 'joined'))).toBe(false);
    expect(JSON.parse(clients())).toEqual(running);
  });

  test('when the authorization server does not accept it, its client is taken out again', async () => {
    const env: Record<string, string> = { AGENTMESH_HOME: home };
    const before = meshJson();
    await expect(joinLocalMesh('demo/triage', { env, policyFile, timeoutMs: 0 })).rejects.toThrow(
      "the local mesh's authorization server did not accept demo/triage",
    );
    expect(JSON.parse(clients())).toEqual(JSON.parse(CLIENTS));
    expect(meshJson()).toBe(before);
    expect(env).toEqual({ AGENTMESH_HOME: home });
  });
});
