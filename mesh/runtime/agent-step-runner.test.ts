import { AgentCard } from '../../gen/agentmesh/v1/card.js';
import { PlanStep } from '../../gen/agentmesh/v1/plan.js';
import { Task, TaskState } from '../../gen/agentmesh/v1/task.js';
import type { DiscoveryClient } from '../discovery/index.js';
import { findExternalAgent } from './a2a/a2a-step-runner.js';
import { AgentStepRunner } from './agent-step-runner.js';
import { ClientPool, type CollaboratorRoutes } from './collaborators.js';
import type { StepCall } from './executor.js';

const SCORER = 'lending/scorer';

/** A registry that answers every lookup with the scorer, counting the lookups. */
function countingDiscovery() {
  const match = {
    entry: { card: { $case: 'agent' as const, agent: AgentCard.fromPartial({ name: SCORER, version: '1.0.0' }) } },
    reasons: ['name'],
    score: 1,
  };
  const lookups: string[] = [];
  const discovery = {
    pick: async () => {
      lookups.push('pick');
      return { match, address: '127.0.0.1:7001' };
    },
    resolve: async () => [match],
  } as unknown as DiscoveryClient;
  return { discovery, lookups };
}

const call = (): StepCall => ({
  taskId: 't1',
  step: PlanStep.fromPartial({ id: 's', target: { $case: 'agent', agent: { agent: SCORER, skillId: 'score' } } }),
  args: {},
  attempt: 1,
  idempotencyKey: 't1:s:1',
  signal: new AbortController().signal,
  deadline: Date.now() + 60_000,
  childTaskCreated: () => undefined,
});

describe('an agent step on an agentmesh collaborator', () => {
  test('locates the collaborator once: the external-agent check and the connection share the lookup', async () => {
    const { discovery, lookups } = countingDiscovery();
    const routes: CollaboratorRoutes = { static: new Map(), discovery: () => discovery };
    const done = Task.fromPartial({
      id: 'child-1',
      status: { state: TaskState.TASK_STATE_COMPLETED },
      artifacts: [{ name: 'result', parts: [{ content: { $case: 'data', data: { score: 7 } } }] }],
    });
    const pool = new ClientPool(
      routes,
      () => ({ sendTask: async () => ({ task: done }), close: () => undefined }) as never,
    );
    const runner = new AgentStepRunner(pool.connect as never, () => 'caller-token', {
      find: (name) => findExternalAgent(routes, name),
      runner: { run: () => Promise.reject(new Error('not an external agent')) },
    });
    const result = await runner.run(call());
    expect(result.output).toEqual({ score: 7 });
    expect(result.choice?.address).toBe('127.0.0.1:7001');
    expect(lookups).toEqual(['pick']);
  });

  test("takes a child task's result from its subscription, without asking for the task again", async () => {
    const { discovery } = countingDiscovery();
    const routes: CollaboratorRoutes = { static: new Map(), discovery: () => discovery };
    const working = Task.fromPartial({ id: 'child-2', status: { state: TaskState.TASK_STATE_WORKING } });
    const artifact = {
      artifactId: 'result',
      name: 'result',
      parts: [{ content: { $case: 'data', data: { score: 9 } } }],
    };
    async function* events() {
      yield { event: { event: { $case: 'task', task: working } } };
      yield { event: { event: { $case: 'artifactUpdate', artifactUpdate: { artifact } } } };
      yield {
        event: {
          event: {
            $case: 'statusUpdate',
            statusUpdate: { status: { state: TaskState.TASK_STATE_COMPLETED }, final: true },
          },
        },
      };
    }
    const pool = new ClientPool(
      routes,
      () =>
        ({
          sendTask: async () => ({ task: working }),
          subscribeTask: () => events(),
          getTask: () => Promise.reject(new Error('GetTask was not needed')),
          close: () => undefined,
        }) as never,
    );
    const runner = new AgentStepRunner(pool.connect as never, () => 'caller-token');
    const result = await runner.run(call());
    expect(result.output).toEqual({ score: 9 });
    expect(result.childTask).toEqual({ agent: SCORER, taskId: 'child-2' });
  });
});
