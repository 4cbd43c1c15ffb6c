// A tool service configured in code, with no policy named anywhere: the built-in default lets
// the workloads of its own namespace in and keeps others out, and the service's own interceptor
// runs after security — it sees only calls that passed, with their verified principal. A bad
// option stops the process with a message naming it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ToolServiceService } from '../gen/agentmesh/v1/tool_service.js';
import { Code, createClient, EXIT_CONFIG, type MeshClient } from '../mesh/index.js';
import { spiffeIdOfService } from '../mesh/index.js';
import { createLocalMeshFiles, localCaller, type LocalMeshFiles } from './helpers/local-auth.js';
import { startProcess, waitForLog, type ServiceProcess } from './helpers/processes.js';

const client = (id: string, scopes: string[], audiences: string[]) => ({
  client_id: id,
  auth: { method: 'client_secret_basic', secret_path: `agentmesh/clients/${id}` },
  scopes,
  audiences,
});

describe('service options given in code', () => {
  let files: LocalMeshFiles;
  let issuer: string;
  let seenFile: string;
  let toolsEnv: Record<string, string>;
  let address: string;
  const procs: ServiceProcess[] = [];
  const closers: { close(): void }[] = [];

  const connect = (caller: string): MeshClient<typeof ToolServiceService> => {
    const { transport, tokens, close } = localCaller(files, caller, issuer);
    const c = createClient(ToolServiceService, address, {
      credentials: transport.channelCredentials(spiffeIdOfService('agentmesh.local', 'demo/tools')),
      metadataHooks: [tokens.metadataHook('demo/tools', ['tools.invoke'])],
    });
    closers.push({ close }, c);
    return c;
  };
  const seen = () => readFileSync(seenFile, 'utf8').split('\n').filter(Boolean);

  beforeAll(async () => {
    files = await createLocalMeshFiles([
      client('demo/agent', ['tools.invoke'], ['demo/tools']),
      client('other/agent', ['tools.invoke'], ['demo/tools']),
      client('demo/tools', [], []),
    ]);
    for (const id of ['demo/agent', 'other/agent', 'demo/tools'])
      files.secrets[`agentmesh/clients/${id}`] = { client_secret: `${id}-secret-0123456789` };
    files.writeSecrets();
    seenFile = join(files.dir, 'seen.txt');
    writeFileSync(seenFile, '');
    const auth = startProcess(
      'services/auth/main.ts',
      files.serviceEnv('agentmesh/auth', { AGENTMESH_AUTH_CLIENTS_FILE: files.clientsFile }),
    );
    procs.push(auth);
    issuer = String((await waitForLog(auth, 'authorization server listening')).issuer);
    toolsEnv = files.serviceEnv('demo/tools', {
      AGENTMESH_OAUTH_ISSUER: issuer,
      AGENTMESH_DATA_DIR: join(files.dir, 'tools'),
      SEEN_FILE: seenFile,
    });
    const tools = startProcess('test/fixtures/intercepted-tools.ts', toolsEnv);
    procs.push(tools);
    expect(await waitForLog(tools, 'caller policy')).toMatchObject({ policy: 'built-in default' });
    address = String((await waitForLog(tools, 'service started')).address);
  });

  afterAll(() => {
    for (const c of closers) c.close();
    for (const p of procs) p.child.kill('SIGKILL');
    files?.cleanup();
  });

  test('a workload of the same namespace lists and invokes the tools; the interceptor sees its verified subject', async () => {
    const tools = connect('demo/agent');
    const { card } = await tools.listTools({});
    expect(card?.tools.map((t) => t.name)).toEqual(['echo']);
    expect(seen()).toEqual(['ListTools demo/agent']);
  });

  test('a workload of another namespace is refused before the interceptor runs', async () => {
    const before = seen();
    const err = await connect('other/agent')
      .listTools({})
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toMatchObject({ code: Code.PERMISSION_DENIED });
    expect(seen()).toEqual(before);
  });

  test('a bad option stops the process with EX_CONFIG and a line naming the option', async () => {
    const bad = startProcess('test/fixtures/intercepted-tools.ts', {
      ...toolsEnv,
      FIXTURE_TRUST_DOMAIN: 'Not A Domain',
    });
    procs.push(bad);
    expect(await bad.exited).toBe(EXIT_CONFIG);
    expect(bad.stderr().trim()).toBe('demo/tools: invalid configuration: option trustDomain must be a DNS-like name');
  });
});
