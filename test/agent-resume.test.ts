import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentServiceService } from '../gen/agentmesh/v1/agent_service.js';
import { TaskState } from '../gen/agentmesh/v1/task.js';
import { createClient } from '../mesh/client/index.js';
import { spiffeIdOfService } from '../mesh/security/spiffe-id.js';
import { createLocalMeshFiles, localCaller, type LocalMeshFiles } from './helpers/local-auth.js';
import { startProcess, waitForLog, type ServiceProcess } from './helpers/processes.js';

const client = (id: string, scopes: string[], audiences: string[]) => ({ client_id: id, auth: { method: 'client_secret_basic', secret_path: `agentmesh/clients/${id}` }, scopes, audiences });
const policy = (service: string, caller: string, scopes: string[]) => ({ service, rules: [{ methods: ['*'], callers: [`spiffe://{trust_domain}/ns/${caller.split('/')[0]}/sa/${caller.split('/')[1]}`], scopes }] });

describe('an agent killed with SIGKILL mid-plan finishes the task after a restart', () => {
  let files: LocalMeshFiles;
  const procs: ServiceProcess[] = [];

  afterAll(() => {
    for (const p of procs) p.child.kill('SIGKILL');
    files?.cleanup();
  });

  test('every completed step ran exactly once; the interrupted one is re-sent with the same key', async () => {
    files = await createLocalMeshFiles([
      client('demo/caller', ['task.write'], ['demo/resumer']),
      client('demo/resumer', ['tools.invoke'], ['demo/tools']),
      client('demo/tools', [], []),
    ]);
    for (const id of ['demo/caller', 'demo/resumer', 'demo/tools']) files.secrets[`agentmesh/clients/${id}`] = { client_secret: `${id}-secret-0123456789` };
    files.writeSecrets();
    const countFile = join(files.dir, 'count.txt');
    writeFileSync(countFile, '');
    const auth = startProcess('services/auth/main.ts', files.serviceEnv('agentmesh/auth', { AGENTMESH_AUTH_CLIENTS_FILE: files.clientsFile }));
    procs.push(auth);
    const issuer = String((await waitForLog(auth, 'authorization server listening')).issuer);
    const writePolicy = (name: string, p: object) => {
      const f = join(files.dir, `${name.replace('/', '-')}.policy.json`);
      writeFileSync(f, JSON.stringify(p));
      return f;
    };
    const tools = startProcess(
      'test/fixtures/counting-tools.ts',
      files.serviceEnv('demo/tools', { AGENTMESH_OAUTH_ISSUER: issuer, AGENTMESH_POLICY_FILE: writePolicy('demo/tools', policy('demo/tools', 'demo/resumer', ['tools.invoke'])), AGENTMESH_DATA_DIR: join(files.dir, 'tools'), COUNT_FILE: countFile, SLOW_MS: '2500' }),
    );
    procs.push(tools);
    const toolsAddress = String((await waitForLog(tools, 'service started')).address);
    const agentEnv = files.serviceEnv('demo/resumer', {
      AGENTMESH_OAUTH_ISSUER: issuer,
      AGENTMESH_POLICY_FILE: writePolicy('demo/resumer', policy('demo/resumer', 'demo/caller', ['task.write'])),
      AGENTMESH_DATA_DIR: join(files.dir, 'agent'),
      AGENTMESH_COLLABORATOR_ADDRESSES: `demo/tools=${toolsAddress}`,
    });
    const first = startProcess('test/fixtures/resume-agent.ts', agentEnv);
    procs.push(first);
    const agentAddress = String((await waitForLog(first, 'service started')).address);

    const { transport, tokens } = localCaller(files, 'demo/caller', issuer);
    const connect = (address: string) =>
      createClient(AgentServiceService, address, { credentials: transport.channelCredentials(spiffeIdOfService('agentmesh.local', 'demo/resumer')), metadataHooks: [tokens.metadataHook('demo/resumer', ['task.write'])] });
    let agent = connect(agentAddress);
    try {
      const { task } = await agent.sendTask({ requestId: 'resume-1', skillId: 'run', message: { messageId: 'm', contextId: '', taskId: '', role: 1, parts: [{ content: { $case: 'data', data: {} }, metadata: undefined, filename: '', mediaType: '' }], metadata: undefined, referenceTaskIds: [] }, configuration: { blocking: false, historyLength: 0 } });
      // Kill the agent while the slow middle step is in flight (the first step has acted).
      for (const until = Date.now() + 15_000; Date.now() < until && !readFileSync(countFile, 'utf8').includes('first'); ) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 300));
      first.child.kill('SIGKILL');
      expect(await first.exited).toBe('SIGKILL');
      agent.close();

      const second = startProcess('test/fixtures/resume-agent.ts', agentEnv);
      procs.push(second);
      agent = connect(String((await waitForLog(second, 'service started')).address));
      let state = TaskState.TASK_STATE_WORKING;
      for (const until = Date.now() + 30_000; Date.now() < until && state !== TaskState.TASK_STATE_COMPLETED && state !== TaskState.TASK_STATE_FAILED; ) {
        await new Promise((r) => setTimeout(r, 200));
        state = (await agent.getTask({ taskId: task!.id, historyLength: 0 })).task!.status!.state;
      }
      expect(state).toBe(TaskState.TASK_STATE_COMPLETED);
      expect(second.stdout()).toContain('resuming unfinished tasks');
      expect(readFileSync(countFile, 'utf8').trim().split('\n')).toEqual(['first', 'last']);
      const { explanation } = await agent.explainTask({ taskId: task!.id, maxDepth: 0 });
      const wait = explanation!.execution.find((e) => e.stepId === 'wait')!;
      expect(wait.attempts.map((a) => a.idempotencyKey)).toEqual([`${task!.id}:wait:1`]);
    } finally {
      agent.close();
      transport.close();
    }
  }, 90_000);
});
