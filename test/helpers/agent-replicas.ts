// Several replicas of one agent (demo/replicated, test/fixtures/replicated-agent.ts) over one
// PostgreSQL database, with a stub tool service whose every action is counted.
import { setTimeout as sleep } from 'node:timers/promises';
import { SendTaskRequest } from '../../gen/agentmesh/v1/agent_service.js';
import type { AgentServiceService } from '../../gen/agentmesh/v1/agent_service.js';
import { requestMessage, type MeshClient, type ToolSpec } from '../../mesh/index.js';
import type { RunningAgent, StubToolService, TestMesh } from '../../mesh/testing/index.js';
import type { BackendFixture } from './state-backends.js';

export const AGENT = 'demo/replicated';
export const EFFECTS = 'demo/effects';

/** A SendTask request (an empty data part) of one of the fixture's skills. */
export function request(skillId: string, requestId: string): SendTaskRequest {
  return SendTaskRequest.fromPartial({ requestId, skillId, message: requestMessage({}) });
}

/**
 * The gate of `act-gated`: each call waits until the test opens it, or until its
 * caller gives up (the call's signal), which is counted as an abort the tool saw.
 */
export class Gate {
  private opened = false;
  private readonly waiting = new Set<() => void>();
  /** Calls whose caller canceled them while they waited. */
  aborted = 0;

  /** Calls from now on wait again. */
  close(): void {
    this.opened = false;
  }

  open(): void {
    this.opened = true;
    for (const go of this.waiting) go();
    this.waiting.clear();
  }

  async pass(signal: AbortSignal): Promise<void> {
    if (this.opened) return;
    await new Promise<void>((resolve) => {
      const go = () => {
        signal.removeEventListener('abort', stop);
        resolve();
      };
      const stop = () => {
        this.aborted++;
        this.waiting.delete(go);
        resolve();
      };
      this.waiting.add(go);
      signal.addEventListener('abort', stop, { once: true });
    });
  }
}

/** The tools: `act` acts at once; `act-gated` acts at once and answers when the gate opens. */
export function effects(gate: Gate): ToolSpec[] {
  const act = (name: string, gated: boolean): ToolSpec => ({
    name,
    description: 'Records one side effect',
    argumentsSchema: { type: 'object', required: ['label'] },
    async handler(args, ctx) {
      if (gated) await gate.pass(ctx.call.signal);
      return { label: args.label };
    },
  });
  return [act('act', false), act('act-gated', true)];
}

/** One replica: its process, its client, its owner id in task leases. */
export interface Replica {
  agent: RunningAgent;
  client: MeshClient<typeof AgentServiceService>;
  id: string;
}

/** Starts a replica of the agent on the fixture's database, with a short task lease. */
export async function startReplica(
  mesh: TestMesh,
  fx: BackendFixture,
  tools: StubToolService,
  name: string,
  leaseMs: number,
): Promise<Replica> {
  const agent = await mesh.startAgent('test/fixtures/replicated-agent.ts', {
    name: AGENT,
    replica: name,
    env: {
      ...fx.env,
      AGENTMESH_COLLABORATOR_ADDRESSES: `${EFFECTS}=${tools.address}`,
      AGENTMESH_TASK_LEASE_MS: String(leaseMs),
    },
  });
  const announced = await agent.process.waitForLog('task lease owner id of this replica');
  return { agent, client: mesh.agent(AGENT, { address: agent.address }), id: String(announced.replica) };
}

/** The lease columns of a task, from the database. */
export async function leaseOf(
  fx: BackendFixture,
  taskId: string,
): Promise<{ state: number; owner: string | null; fencing: number }> {
  const [row] = await fx.sql(AGENT, `SELECT state, owner, fencing FROM tasks WHERE id = '${taskId}'`);
  return row as { state: number; owner: string | null; fencing: number };
}

/** Waits until `check` returns a value (not undefined); bounded by the test's timeout, not by a clock here. */
export async function until<T>(check: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    await sleep(50);
  }
}

/** How many rows of each of a task's records there are: what a replica that writes would change. */
export async function footprint(fx: BackendFixture, taskId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of ['task_events', 'step_transitions', 'execution_records', 'task_versions', 'plans']) {
    const [row] = await fx.sql(AGENT, `SELECT count(*)::int AS n FROM ${table} WHERE task_id = '${taskId}'`);
    counts[table] = Number(row!.n);
  }
  const [task] = await fx.sql(AGENT, `SELECT version, fencing FROM tasks WHERE id = '${taskId}'`);
  counts.version = Number(task!.version);
  counts.fencing = Number(task!.fencing);
  return counts;
}
