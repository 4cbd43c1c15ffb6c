// A cancel made in this process stops a run of the task at once, however the run started: the
// run's lease is long (renewal far off), so without the owner check on this process's own change
// notices the tool call below would wait for its abort until the test times out.
import { AgentCard } from '../gen/agentmesh/v1/card.js';
import { TaskState } from '../gen/agentmesh/v1/task.js';
import type { AgentRuntime, Principal, Store, ToolSpec } from '../mesh/index.js';
import { oneToolRuntime, type TestAudit } from './helpers/one-tool-runtime.js';
import { request } from './helpers/agent-replicas.js';
import { sqliteFixture, postgresFixture, type BackendFixture } from './helpers/state-backends.js';

const AGENT = 'demo/cancel-here';
let fx: BackendFixture;
let store: Store;
const runtimes: AgentRuntime[] = [];
let started: (() => void) | undefined;
let aborted = 0;
const tools: ToolSpec[] = [
  {
    name: 'act',
    description: 'runs until its call is aborted',
    argumentsSchema: { type: 'object' },
    handler: async (_args, ctx) => {
      started?.();
      await new Promise<void>((resolve) => {
        if (ctx.call.signal.aborted) return resolve();
        ctx.call.signal.addEventListener('abort', () => resolve());
      });
      aborted++;
      throw new Error('aborted');
    },
  },
];
const card = AgentCard.fromPartial({
  name: AGENT,
  version: '1.0.0',
  purpose: 'cancel test',
  skills: [{ id: 'go', name: 'Go', description: 'waits', inputSchema: { type: 'object' } }],
});
const caller: Principal = {
  peer: { spiffeId: undefined, source: 'none' as never },
  subject: 'user-1',
  clientId: 'c',
  scopes: [],
  roles: [],
  actors: [],
  token: '',
  claims: {},
};
/** A runtime over the shared store; its lease is renewed only every 200 s. */
function replica(audit: TestAudit = { append: async () => undefined }, leaseMs = 600_000) {
  const made = oneToolRuntime({ agent: AGENT, card, store, tools, audit, leaseMs });
  runtimes.push(made.runtime);
  return made;
}

describe.each([
  ['SQLite', sqliteFixture],
  ['PostgreSQL', postgresFixture],
] as [string, () => Promise<BackendFixture>][])('a cancel in this process (%s)', (_name, makeFixture) => {
  beforeAll(async () => {
    fx = await makeFixture();
    store = await fx.open(AGENT);
  });
  afterAll(async () => {
    for (const r of runtimes.splice(0)) await r.close();
    await store?.close();
    await fx?.cleanup();
  });

  test('by another runtime sharing the store stops the run', async () => {
    const a = replica();
    const b = replica();
    await a.runtime.resume();
    await b.runtime.resume();
    const running = new Promise<void>((resolve) => (started = resolve));
    const task = await a.runtime.send(request('go', 'r1'), caller);
    await running;
    aborted = 0;
    expect((await b.runtime.cancel(task.id, 'stop', caller)).state).toBe(TaskState.TASK_STATE_CANCELED);
    await a.runtime.idle(task.id);
    expect(aborted).toBe(1);
  });

  test('stops a run its own takeover scan started while the cancel was being written', async () => {
    // X runs the task, then stops: the task is left WORKING with a lapsed lease.
    const x = replica(undefined, 300);
    await x.runtime.resume();
    const running = new Promise<void>((resolve) => (started = resolve));
    const task = await x.runtime.send(request('go', 'r2'), caller);
    await running;
    await x.runtime.close();
    // A's cancel waits, between its abort of local runs and its write, on the audit record.
    let audited: () => void = () => undefined;
    const auditing = new Promise<void>((resolve) => (audited = resolve));
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const a = replica({
      append: async (e) => {
        if (e.kind === 'task_state' && e.outcome === 'CANCELED') {
          audited();
          await gate;
        }
      },
    });
    const canceling = a.runtime.cancel(task.id, 'stop', caller);
    await auditing;
    // Meanwhile A's takeover scan (its first, at resume) takes the task and runs it again.
    const rerun = new Promise<void>((resolve) => (started = resolve));
    aborted = 0;
    await a.runtime.resume();
    await rerun;
    release();
    expect((await canceling).state).toBe(TaskState.TASK_STATE_CANCELED);
    await a.runtime.idle(task.id);
    expect(aborted).toBe(1);
  });
});
