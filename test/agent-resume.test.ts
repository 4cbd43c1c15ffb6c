import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentServiceService, type SendTaskRequest } from '../gen/agentmesh/v1/agent_service.js';
import { TaskState } from '../gen/agentmesh/v1/task.js';
import { createClient, type MeshClient } from '../mesh/index.js';
import { spiffeIdOfService } from '../mesh/security/spiffe-id.js';
import { createLocalMeshFiles, localCaller, type LocalMeshFiles } from './helpers/local-auth.js';
import { startProcess, waitForLog, type ServiceProcess } from './helpers/processes.js';

const client = (id: string, scopes: string[], audiences: string[], extra: object = {}) => ({
  client_id: id,
  auth: { method: 'client_secret_basic', secret_path: `agentmesh/clients/${id}` },
  scopes,
  audiences,
  ...extra,
});
const spiffe = (name: string) => `spiffe://{trust_domain}/ns/${name.split('/')[0]}/sa/${name.split('/')[1]}`;
const policy = (service: string, callers: string[], scopes: string[]) => ({
  service,
  rules: [{ methods: ['*'], callers: callers.map(spiffe), scopes }],
});
const request = (requestId: string, skillId: string): SendTaskRequest => ({
  requestId,
  skillId,
  message: {
    messageId: requestId,
    contextId: '',
    taskId: '',
    role: 1,
    parts: [{ content: { $case: 'data', data: {} }, metadata: undefined, filename: '', mediaType: '' }],
    metadata: undefined,
    referenceTaskIds: [],
  },
  configuration: { blocking: false, historyLength: 0, timeout: undefined },
});
// Another process's progress shows only in files and answers: polled until it is there, however long the
// machine takes (each test's own timeout is the bound).
const until = async (check: () => boolean | Promise<boolean>) => {
  while (!(await check())) await new Promise((r) => setTimeout(r, 50));
};

describe('an agent killed with SIGKILL mid-plan finishes the task after a restart', () => {
  let files: LocalMeshFiles;
  let issuer: string;
  let countFile: string;
  let toolsAddress: string;
  let tools: ServiceProcess;
  const procs: ServiceProcess[] = [];
  const callers: { close(): void }[] = [];

  const writePolicy = (name: string, p: object) => {
    const f = join(files.dir, `${name.replace('/', '-')}.policy.json`);
    writeFileSync(f, JSON.stringify(p));
    return f;
  };
  const start = (entry: string, env: Record<string, string>) => {
    const proc = startProcess(entry, env);
    procs.push(proc);
    return proc;
  };
  const resumerEnv = () =>
    files.serviceEnv('demo/resumer', {
      AGENTMESH_OAUTH_ISSUER: issuer,
      AGENTMESH_POLICY_FILE: writePolicy(
        'demo/resumer',
        policy('demo/resumer', ['demo/caller', 'demo/delegator'], ['task.write']),
      ),
      AGENTMESH_DATA_DIR: join(files.dir, 'resumer'),
      AGENTMESH_COLLABORATOR_ADDRESSES: `demo/tools=${toolsAddress}`,
    });
  const connect = (service: string, address: string): MeshClient<typeof AgentServiceService> => {
    const { transport, tokens, close } = localCaller(files, 'demo/caller', issuer);
    callers.push({ close });
    const c = createClient(AgentServiceService, address, {
      credentials: transport.channelCredentials(spiffeIdOfService('agentmesh.local', service)),
      metadataHooks: [tokens.metadataHook(service, ['task.write'])],
    });
    callers.push(c);
    return c;
  };
  const lines = () => readFileSync(countFile, 'utf8').trim().split('\n').filter(Boolean);
  const settle = async (agent: MeshClient<typeof AgentServiceService>, taskId: string) => {
    let state = TaskState.TASK_STATE_WORKING;
    await until(async () => {
      state = (await agent.getTask({ taskId, historyLength: 0 })).task!.status!.state;
      return state === TaskState.TASK_STATE_COMPLETED || state === TaskState.TASK_STATE_FAILED;
    });
    return state;
  };

  beforeAll(async () => {
    files = await createLocalMeshFiles([
      client('demo/caller', ['task.write'], ['demo/resumer', 'demo/delegator']),
      client('demo/delegator', ['task.write'], ['demo/resumer'], { token_exchange: true }),
      client('demo/resumer', ['tools.invoke'], ['demo/tools']),
      client('demo/tools', [], []),
    ]);
    for (const id of ['demo/caller', 'demo/delegator', 'demo/resumer', 'demo/tools'])
      files.secrets[`agentmesh/clients/${id}`] = { client_secret: `${id}-secret-0123456789` };
    files.writeSecrets();
    countFile = join(files.dir, 'count.txt');
    const auth = start(
      'services/auth/main.ts',
      files.serviceEnv('agentmesh/auth', { AGENTMESH_AUTH_CLIENTS_FILE: files.clientsFile }),
    );
    issuer = String((await waitForLog(auth, 'authorization server listening')).issuer);
    const proc = start(
      'test/fixtures/counting-tools.ts',
      files.serviceEnv('demo/tools', {
        AGENTMESH_OAUTH_ISSUER: issuer,
        AGENTMESH_POLICY_FILE: writePolicy('demo/tools', policy('demo/tools', ['demo/resumer'], ['tools.invoke'])),
        AGENTMESH_DATA_DIR: join(files.dir, 'tools'),
        COUNT_FILE: countFile,
      }),
    );
    tools = proc;
    toolsAddress = String((await waitForLog(proc, 'service started')).address);
  }, 120_000);

  afterAll(() => {
    for (const c of callers) c.close();
    for (const p of procs) p.child.kill('SIGKILL');
    files?.cleanup();
  });

  test('every step acts exactly once, also the one that had acted when the agent died; it is re-sent with the same key', async () => {
    writeFileSync(countFile, '');
    const first = start('test/fixtures/resume-agent.ts', resumerEnv());
    let agent = connect('demo/resumer', String((await waitForLog(first, 'service started')).address));
    const { task } = await agent.sendTask(request('resume-1', 'run'));
    // Kill the agent after the slow step has acted, before it answers; then let the tool answer (nobody hears it).
    await until(() => lines().includes('middle'));
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    tools.child.kill('SIGUSR2');

    const second = start('test/fixtures/resume-agent.ts', resumerEnv());
    agent = connect('demo/resumer', String((await waitForLog(second, 'service started')).address));
    expect(await settle(agent, task!.id)).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(second.stdout()).toContain('resuming unfinished tasks');
    expect(lines()).toEqual(['first', 'middle', 'last']);
    const { explanation } = await agent.explainTask({ taskId: task!.id, maxDepth: 0 });
    const middle = explanation!.execution.find((e) => e.stepId === 'middle')!;
    expect(middle.attempts.map((a) => a.idempotencyKey)).toEqual([`${task!.id}:middle:1`]);
    second.child.kill('SIGKILL');
    await second.exited;
  }, 240_000);

  test("an agent step interrupted by a crash waits for its caller's authority (AUTH_REQUIRED), then resumes the same child task", async () => {
    writeFileSync(countFile, '');
    const resumer = start('test/fixtures/resume-agent.ts', resumerEnv());
    const resumerAddress = String((await waitForLog(resumer, 'service started')).address);
    const delegatorEnv = files.serviceEnv('demo/delegator', {
      AGENTMESH_OAUTH_ISSUER: issuer,
      AGENTMESH_POLICY_FILE: writePolicy('demo/delegator', policy('demo/delegator', ['demo/caller'], ['task.write'])),
      AGENTMESH_DATA_DIR: join(files.dir, 'delegator'),
      AGENTMESH_COLLABORATOR_ADDRESSES: `agent:demo/resumer=${resumerAddress}`,
    });
    const first = start('test/fixtures/delegating-agent.ts', delegatorEnv);
    const firstAddress = String((await waitForLog(first, 'service started')).address);
    const { task } = await connect('demo/delegator', firstAddress).sendTask(request('delegate-1', 'delegate'));
    await until(() => lines().includes('middle'));
    first.child.kill('SIGKILL');
    await first.exited;
    // The child task (in the resumer, still running) finishes its slow step now.
    tools.child.kill('SIGUSR2');

    const second = start('test/fixtures/delegating-agent.ts', delegatorEnv);
    const secondAddress = String((await waitForLog(second, 'service started')).address);
    // A fresh process holds no token of the caller: it cannot act for them, so the task waits instead of failing.
    const audit = join(files.dir, 'delegator', 'audit.jsonl');
    await until(() => existsSync(audit) && readFileSync(audit, 'utf8').includes('"outcome":"AUTH_REQUIRED"'));
    const agent = connect('demo/delegator', secondAddress);
    const waiting = (await agent.getTask({ taskId: task!.id, historyLength: 0 })).task!;
    expect(waiting.status!.state).toBe(TaskState.TASK_STATE_AUTH_REQUIRED);
    expect(
      waiting.status!.message!.parts.map((p) => (p.content?.$case === 'text' ? p.content.text : '')).join(''),
    ).toContain('needs a current token of theirs');
    // That call handed over a current token: the task resumes and completes.
    expect(await settle(agent, task!.id)).toBe(TaskState.TASK_STATE_COMPLETED);
    // The child ran its steps once each, and the delegator's step followed the same child task under the same key.
    expect(lines()).toEqual(['first', 'middle', 'last']);
    const { explanation } = await agent.explainTask({ taskId: task!.id, maxDepth: 2 });
    const child = explanation!.execution.find((e) => e.stepId === 'child')!;
    expect(child.attempts.map((a) => a.idempotencyKey)).toEqual([`${task!.id}:child:1`]);
    expect(explanation!.children[0]!.result?.$case).toBe('explanation');
  }, 240_000);
});
