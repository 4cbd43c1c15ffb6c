import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { MeshFile } from '../config/index.js';
import type { ServicePolicy } from '../security/index.js';
import { addToMeshFile, registerLocalClient, removeFromMeshFile, removeLocalClient } from './local-mesh-files.js';

interface Client {
  client_id: string;
  audiences?: string[];
  joined_pid?: number;
}
const DEAD_PID = 2 ** 22 + 1;
const launched = (id: string, audiences: string[] = []) => ({
  client_id: id,
  auth: { method: 'client_secret_basic', secret_path: `agentmesh/clients/${id}` },
  audiences,
});
const entry = (name: string) => ({
  name,
  kind: 'agent' as const,
  address: '127.0.0.1:1',
  admin: undefined,
  spiffeId: `spiffe://agentmesh.local/ns/${name.replace('/', '/sa/')}`,
  log: 'service.log',
  trace: undefined,
});
const POLICY: ServicePolicy = {
  service: 'demo/triage',
  rules: [
    { description: 'tasks', methods: ['*'], callers: ['spiffe://agentmesh.local/ns/agentmesh/sa/cli'], scopes: ['x'] },
    { description: 'card', methods: ['a.B/GetAgentCard'], callers: ['spiffe://agentmesh.local/ns/*/sa/*'], scopes: [] },
  ],
};

describe('the local mesh files joined agents update', () => {
  let home: string;
  let clientsFile: string;
  let meshFile: string;
  const mesh = { trustDomain: 'agentmesh.local', services: [entry('agentmesh/registry')] } as MeshFile;
  const clients = () => JSON.parse(readFileSync(clientsFile, 'utf8')) as Client[];
  const listed = () => (JSON.parse(readFileSync(meshFile, 'utf8')) as MeshFile).services.map((s) => s.name);
  const join_ = (service: string) =>
    registerLocalClient(clientsFile, mesh, {
      service,
      kind: 'agent',
      publicKeyPem: 'PEM',
      policy: POLICY,
      policyFile: 'p',
    });

  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'agentmesh-files-'));
    clientsFile = join(home, 'clients.json');
    meshFile = join(home, 'mesh.json');
    writeFileSync(clientsFile, JSON.stringify([launched('agentmesh/cli'), launched('demo/billing')]));
    writeFileSync(meshFile, JSON.stringify({ ...mesh, launcherPid: process.pid }));
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  test('only callers of rules that need a token (scopes) may obtain tokens for the joiner', () => {
    join_('demo/triage');
    const byId = new Map(clients().map((c) => [c.client_id, c]));
    expect(byId.get('agentmesh/cli')!.audiences).toEqual(['demo/triage']);
    expect(byId.get('demo/billing')!.audiences).toEqual([]);
    expect(byId.get('demo/triage')!.joined_pid).toBe(process.pid);
  });

  test('a name the mesh runs itself or a live process joined under is refused with one line', () => {
    expect(() => join_('demo/billing')).toThrow(
      'cannot join the local mesh: demo/billing is a service the local mesh runs itself (client_secret_basic client in clients.json)',
    );
    writeFileSync(clientsFile, JSON.stringify([{ client_id: 'demo/triage', joined_pid: process.ppid }]));
    expect(() => join_('demo/triage')).toThrow(
      `cannot join the local mesh: demo/triage is joined already by running process ${process.ppid}`,
    );
    expect(() => addToMeshFile(meshFile, entry('agentmesh/registry'))).toThrow(
      'cannot join the local mesh: agentmesh/registry is a service the local mesh runs itself (listed in mesh.json)',
    );
    expect(listed()).toEqual(['agentmesh/registry']);
  });

  test('entries of joined processes that are gone are replaced and pruned, audiences included', () => {
    const stale = { client_id: 'demo/old', joined_pid: DEAD_PID };
    writeFileSync(
      clientsFile,
      JSON.stringify([launched('agentmesh/cli', ['demo/old']), stale, { ...stale, client_id: 'demo/triage' }]),
    );
    writeFileSync(
      meshFile,
      JSON.stringify({ ...mesh, services: [...mesh.services, { ...entry('demo/old'), pid: DEAD_PID }] }),
    );
    join_('demo/triage');
    addToMeshFile(meshFile, entry('demo/triage'));
    expect(clients().map((c) => [c.client_id, c.audiences])).toEqual([
      ['agentmesh/cli', ['demo/triage']],
      ['demo/triage', ['agentmesh/registry']],
    ]);
    expect(listed()).toEqual(['agentmesh/registry', 'demo/triage']);
  });

  test('leaving takes the client and the mesh entry out again; a lock left by a dead process is taken over', () => {
    join_('demo/triage');
    addToMeshFile(meshFile, entry('demo/triage'));
    writeFileSync(`${clientsFile}.lock`, String(DEAD_PID));
    removeLocalClient(clientsFile, 'demo/triage');
    removeFromMeshFile(meshFile, 'demo/triage');
    expect(clients()).toEqual([launched('agentmesh/cli'), launched('demo/billing')]);
    expect(listed()).toEqual(['agentmesh/registry']);
    expect(() => readFileSync(`${clientsFile}.lock`)).toThrow(/ENOENT/);
  });

  test('two processes joining at the same time both stay registered and listed', async () => {
    const script = join(home, 'join-many.ts');
    const files = resolve('mesh/service/local-mesh-files.ts');
    writeFileSync(
      script,
      `import { addToMeshFile, registerLocalClient } from ${JSON.stringify(files)};
const [home, ns] = process.argv.slice(2);
const mesh = { trustDomain: 'agentmesh.local', services: [] };
const policy = { service: 'x/y', rules: [] };
process.stdout.write('ready\\n');
process.stdin.once('data', () => {
  for (let i = 0; i < 60; i++) {
    const service = ns + '/a' + i;
    registerLocalClient(home + '/clients.json', mesh, { service, kind: 'tool', publicKeyPem: 'PEM', policy, policyFile: 'p' });
    addToMeshFile(home + '/mesh.json', { name: service, kind: 'tool', address: 'a', spiffeId: 's', log: 'l' });
  }
  process.stdout.write('done\\n');
  process.stdin.once('end', () => process.exit(0));
});
`,
    );
    const children = ['one', 'two'].map((ns) =>
      spawn(process.execPath, ['--import', 'tsx', script, home, ns], { env: { ...process.env, NODE_OPTIONS: '' } }),
    );
    const said = (line: string) =>
      Promise.all(
        children.map(
          (c) =>
            new Promise<void>((done, failed) => {
              let out = '';
              c.stdout.on('data', (d: Buffer) => (out += d.toString()).includes(line) && done());
              c.once('exit', (code) => failed(new Error(`child exited (${code}) before "${line}"`)));
            }),
        ),
      );
    await said('ready');
    for (const c of children) c.stdin.write('go\n');
    await said('done');
    const names = ['one', 'two'].flatMap((ns) => Array.from({ length: 60 }, (_, i) => `${ns}/a${i}`));
    expect(clients().map((c) => c.client_id)).toEqual(expect.arrayContaining(names));
    expect(listed()).toEqual(expect.arrayContaining(names));
    expect(clients()).toHaveLength(names.length + 2);
    const exited = children.map((c) => new Promise((r) => c.once('exit', r)));
    for (const c of children) c.stdin.end();
    expect(await Promise.all(exited)).toEqual([0, 0]);
  });
});
