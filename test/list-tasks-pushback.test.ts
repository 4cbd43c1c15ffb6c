// ListTasks' "narrow waiting_for_me" refusal is permanent: the same query scans the same tasks
// again, so it goes out with `grpc-retry-pushback-ms: -1` (MeshError.permanent) and no client
// retries it. More waiting tasks than one query may scan are written in one transaction.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListTasksRequest } from '../gen/agentmesh/v1/agent_service.js';
import { InputRequest, TaskState, TaskStatus } from '../gen/agentmesh/v1/task.js';
import { Code, loadStateConfig, openStore, type Principal, type Store } from '../mesh/index.js';
import { listTasks, MAX_WAITING_SCAN } from '../mesh/runtime/list-tasks.js';

const carol: Principal = {
  peer: { spiffeId: undefined, source: 'none' },
  subject: 'carol',
  clientId: 'agentmesh/console',
  scopes: ['task.read'],
  roles: ['loan-approver'],
  actors: ['agentmesh/console'],
  token: '',
  claims: {},
};

describe('ListTasks past its scan of waiting tasks', () => {
  let dir: string;
  let store: Store;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'list-pushback-'));
    store = await openStore({ service: 'test/agent', config: loadStateConfig({ AGENTMESH_DATA_DIR: dir }) });
    // Waiting for an answer from a role carol does not hold: scanned, never listed.
    const status = TaskStatus.toJSON(
      TaskStatus.fromPartial({
        state: TaskState.TASK_STATE_INPUT_REQUIRED,
        inputRequest: InputRequest.fromPartial({ stepId: 'approve', approverRoles: ['risk-officer'] }),
      }),
    );
    await store.atomically(async (tx) => {
      for (let i = 0; i <= MAX_WAITING_SCAN; i++) {
        const id = `t-${i}`;
        const data = { subject: 'ada', agent: 'test/agent', skillId: 'run', status: {}, history: [], artifacts: [] };
        const { task } = await tx.tasks.create({ id, contextId: 'ctx', principal: 'ada', data });
        const working = await tx.tasks.update(id, {
          expectedVersion: task.version,
          principal: 'test/agent',
          state: TaskState.TASK_STATE_WORKING,
        });
        await tx.tasks.update(id, {
          expectedVersion: working.version,
          principal: 'test/agent',
          state: TaskState.TASK_STATE_INPUT_REQUIRED,
          data: { ...data, status },
        });
      }
    });
  });
  afterAll(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('is RESOURCE_EXHAUSTED saying what to narrow, and permanent (not retried)', async () => {
    const refusal = listTasks(store, ListTasksRequest.fromPartial({ waitingForMe: true }), carol, ['auditor']);
    await expect(refusal).rejects.toMatchObject({
      code: Code.RESOURCE_EXHAUSTED,
      message: expect.stringMatching(/tasks wait for input: narrow waiting_for_me/),
      permanent: true,
    });
  });
});
