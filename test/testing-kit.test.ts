// The testing kit users get (agentmesh/testing): a real secured mesh in a few lines, one of the
// repository's demo agents run unmodified against stub tools, typed clients with real tokens,
// and nothing left behind by stop().
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { TaskState } from '../gen/agentmesh/v1/task.js';
import { requestMessage } from '../mesh/index.js';
import { Code, processAlive, type MeshFile, type ToolSpec } from '../mesh/index.js';
import { startTestMesh, type StubToolService, type TestMesh } from '../mesh/testing/index.js';
import { ROOT, runCommand, startProcess } from './helpers/processes.js';

const AGENT = 'lending/credit-risk';
const tool = (name: string, handler: ToolSpec['handler']): ToolSpec => ({
  name,
  description: `stub ${name}`,
  argumentsSchema: { type: 'object' },
  idempotent: true,
  handler,
});

describe('agentmesh/testing: a secured mesh for testing an agent', () => {
  let mesh: TestMesh;
  let records: StubToolService;
  let math: StubToolService;
  let authPid: number;

  beforeAll(async () => {
    // The stub services are named up front; the agent is not: its client is added to the running
    // authorization server's clients file, which it reloads.
    mesh = await startTestMesh({ tools: ['banking/customer-records', 'banking/loan-math'] });
    authPid = mesh.processes[0]!.child.pid!;
    records = await mesh.stubTools('banking/customer-records', [
      tool('get-customer', async () => ({
        monthlyIncomeEur: 4000,
        monthlyDebtsEur: 400,
        creditHistoryYears: 9,
        missedPayments: 0,
      })),
    ]);
    math = await mesh.stubTools('banking/loan-math', [
      tool('affordability', async () => ({ monthlyPayment: 150, debtToIncome: 0.14 })),
      tool('risk-score', async (args) => ({ score: 810, band: 'LOW', basedOn: args })),
    ]);
    // The demo agent's own entry and policy.json (which names it and admits the test caller).
    await mesh.startAgent('services/agents/credit-risk/main.ts');
  }, 120_000);

  afterAll(() => mesh?.stop());

  test('a task runs to COMPLETED through the stub tools, which record each call', async () => {
    const { task } = await mesh.agent(AGENT).sendTask({
      requestId: 'kit-1',
      skillId: 'assess-credit-risk',
      message: requestMessage({ customerId: 'C-1001', amount: 5000, termMonths: 36 }, undefined),
      configuration: { blocking: true, historyLength: 0, timeout: undefined },
    });
    expect(task?.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    const result = task!.artifacts[0]!.parts[0]!.content;
    expect(result?.$case === 'data' && result.data).toMatchObject({ score: 810, band: 'LOW' });

    expect(records.calls).toEqual([
      expect.objectContaining({
        tool: 'get-customer',
        arguments: { customerId: 'C-1001' },
        taskId: task!.id,
        stepId: 'customer',
        subject: AGENT,
      }),
    ]);
    expect(math.callsOf('risk-score')[0]!.arguments).toEqual({
      creditHistoryYears: 9,
      missedPayments: 0,
      debtToIncome: 0.14,
      monthlyPayment: 150,
    });
  });

  test('a call without a token is refused with UNAUTHENTICATED and reaches no tool', async () => {
    const before = records.calls.length;
    await expect(
      mesh.agent(AGENT, { withoutToken: true }).sendTask({
        requestId: 'kit-2',
        skillId: 'assess-credit-risk',
        message: requestMessage({ customerId: 'C-1001', amount: 5000, termMonths: 36 }, undefined),
        configuration: { blocking: true, historyLength: 0, timeout: undefined },
      }),
    ).rejects.toMatchObject({ code: Code.UNAUTHENTICATED });
    expect(records.calls).toHaveLength(before);
  });

  test('a client acting for a named person: the task is theirs, and another person does not find it', async () => {
    const { task } = await mesh.agent(AGENT, { user: 'alice' }).sendTask({
      requestId: 'kit-3',
      skillId: 'assess-credit-risk',
      message: requestMessage({ customerId: 'C-1001', amount: 9000, termMonths: 48 }, undefined),
      configuration: { blocking: true, historyLength: 0, timeout: undefined },
    });
    expect(task?.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    const read = { taskId: task!.id, historyLength: 0 };
    expect((await mesh.agent(AGENT, { user: 'alice' }).getTask(read)).task?.id).toBe(task!.id);
    await expect(mesh.agent(AGENT, { user: 'bob' }).getTask(read)).rejects.toMatchObject({ code: Code.NOT_FOUND });
  });

  test('home holds a mesh.json that names every service and the caller, as the launcher writes it', async () => {
    const file = JSON.parse(readFileSync(join(mesh.home, 'mesh.json'), 'utf8')) as MeshFile;
    expect(file.services.map((s) => [s.name, s.kind])).toEqual([
      ['agentmesh/auth', 'auth'],
      ['agentmesh/registry', 'registry'],
      ['banking/customer-records', 'tool'],
      ['banking/loan-math', 'tool'],
      [AGENT, 'agent'],
    ]);
    expect(file).toMatchObject({ issuer: mesh.issuer, client: { clientId: 'agentmesh/cli' } });
    expect(readFileSync(file.ca, 'utf8')).toContain('BEGIN CERTIFICATE');
    // The CLI finds the test mesh through AGENTMESH_HOME and lists its agent from the registry.
    const listed = await runCommand(process.execPath, [join(ROOT, 'devtools/cli/bin.mjs'), 'agents'], {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: '', AGENTMESH_HOME: mesh.home, AGENTMESH_USER: 'alice' },
      timeout: 60_000,
    });
    expect(listed).toMatchObject({ code: 0, stdout: expect.stringContaining(AGENT) });
  });

  test('a service not named up front joins the running mesh: no restart, and the running agent keeps working', async () => {
    // The agent was not named up front either; its start did not restart the authorization server.
    expect(mesh.processes[0]!.child.pid).toBe(authPid);
    const late = await mesh.stubTools('banking/late-joiner', [tool('ping', async () => ({ pong: true }))]);
    // stubTools resolved: the new service got a token and registered itself.
    expect(late.address).toBeTruthy();
    expect(mesh.processes[0]!.child.pid).toBe(authPid);
    expect(processAlive(authPid)).toBe(true);
    const { task } = await mesh.agent(AGENT).sendTask({
      requestId: 'kit-4',
      skillId: 'assess-credit-risk',
      message: requestMessage({ customerId: 'C-1001', amount: 7000, termMonths: 24 }, undefined),
      configuration: { blocking: true, historyLength: 0, timeout: undefined },
    });
    expect(task?.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
  });

  test('stop() ends every process it started and removes its folder', async () => {
    const pids = mesh.processes.map((p) => p.child.pid!);
    expect(pids).toHaveLength(3);
    expect(pids.every(processAlive)).toBe(true);
    await mesh.stop();
    expect(pids.filter(processAlive)).toEqual([]);
    expect(existsSync(mesh.home)).toBe(false);
  });
});

describe('agentmesh/testing when the test process is killed', () => {
  test('its services notice (IPC channel closed) and stop by themselves', async () => {
    const parent = startProcess('test/fixtures/test-mesh-then-sigkill.ts');
    expect(await parent.exited).toBe('SIGKILL');
    const { pids, home } = JSON.parse(parent.stdout()) as { pids: number[]; home: string };
    expect(pids).toHaveLength(2);
    // Not our children: their exit cannot be awaited, only observed (jest's timeout is the bound).
    while (pids.some(processAlive)) await new Promise((r) => setTimeout(r, 50));
    expect(pids.filter(processAlive)).toEqual([]);
    rmSync(home, { recursive: true, force: true });
  }, 60_000);
});
