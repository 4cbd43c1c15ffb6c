import { setTimeout as sleep } from 'node:timers/promises';
import { AgentCard } from '../gen/agentmesh/v1/card.js';
import { TaskState } from '../gen/agentmesh/v1/task.js';
import { Code, type AgentRuntime, type Principal, type Store, type ToolSpec } from '../mesh/index.js';
import { oneToolRuntime, type TestAudit } from './helpers/one-tool-runtime.js';
import pg from 'pg';
import { request } from './helpers/agent-replicas.js';
import { BACKENDS, postgresFixture, type BackendFixture } from './helpers/state-backends.js';

const who = 'test';
const LOST = { code: Code.ABORTED, message: expect.stringMatching(/^lease of task \S+ lost/) };

/** Waits until `check` holds; bounded by the test's timeout. */
async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await sleep(20);
}

describe.each(BACKENDS)('task leases on %s', (_kind, makeFixture) => {
  let fx: BackendFixture;
  let store: Store;
  beforeAll(async () => {
    fx = await makeFixture();
    store = await fx.open('leases/tasks');
  });
  afterAll(async () => {
    await store?.close();
    await fx?.cleanup();
  });

  let n = 0;
  /** A task created leased to `owner` for `ttlMs` (token 1). */
  const leased = async (owner: string, ttlMs: number) => {
    const { task } = await store.tasks.create({
      id: `t${++n}`,
      contextId: 'c',
      principal: who,
      lease: { owner, ttlMs },
    });
    return task;
  };
  test('a live lease is not taken; a lapsed one is, by one of many contenders, and the old holder can write nothing', async () => {
    const task = await leased('a', 60_000);
    expect(task).toMatchObject({ owner: 'a', fencing: 1 });
    expect(await store.tasks.acquire(task.id, 'b', 60_000)).toBeUndefined();
    expect(await store.tasks.lapsed()).not.toContainEqual(expect.objectContaining({ id: task.id }));

    const short = await leased('a', 1);
    await until(async () => (await store.tasks.lapsed()).some((t) => t.id === short.id));
    const contenders = await Promise.all(
      ['b', 'c', 'd', 'e', 'f'].map(async (owner) => ({
        owner,
        got: await store.tasks.acquire(short.id, owner, 60_000),
      })),
    );
    // One UPDATE matched: one winner, token 2, and it knows whose lease lapsed.
    const winners = contenders.filter((c) => c.got !== undefined);
    expect(winners).toHaveLength(1);
    expect(winners[0]!.got).toEqual({ fencing: 2, previousOwner: 'a' });
    const winner = winners[0]!.owner;
    expect((await store.tasks.get(short.id)).owner).toBe(winner);

    // The old holder: its fence, its state change and its renewal are all refused; nothing changes.
    const before = await store.tasks.get(short.id);
    await expect(store.tasks.fence(short.id, { owner: 'a', fencing: 1, ttlMs: 60_000 })).rejects.toMatchObject(LOST);
    await expect(
      store.tasks.update(short.id, {
        expectedVersion: before.version,
        principal: who,
        state: TaskState.TASK_STATE_WORKING,
        lease: { owner: 'a', fencing: 1, ttlMs: 60_000 },
      }),
    ).rejects.toMatchObject(LOST);
    expect((await store.tasks.renew('a', [short.id], 60_000)).size).toBe(0);
    expect(await store.tasks.get(short.id)).toEqual(before);
    expect(await store.tasks.renew(winner, [short.id], 60_000)).toEqual(new Map([[short.id, 2]]));
  });

  test('the holder writes under its token and gives the lease up when the task waits or ends; a cancel revokes', async () => {
    const task = await leased('a', 60_000);
    const lease = { owner: 'a', fencing: 1, ttlMs: 60_000 };
    const working = await store.tasks.update(task.id, {
      expectedVersion: 1,
      principal: who,
      state: TaskState.TASK_STATE_WORKING,
      lease,
    });
    expect(working).toMatchObject({ owner: 'a', fencing: 1 });
    const waiting = await store.tasks.update(task.id, {
      expectedVersion: 2,
      principal: who,
      state: TaskState.TASK_STATE_INPUT_REQUIRED,
      lease,
      release: true,
    });
    expect(waiting).toMatchObject({ owner: undefined, fencing: 1, leaseUntil: undefined });
    // A waiting task is nobody's to take over.
    expect(await store.tasks.lapsed()).not.toContainEqual(expect.objectContaining({ id: task.id }));
    // An answer on any replica takes it in the same write.
    const answered = await store.tasks.update(task.id, {
      expectedVersion: 3,
      principal: who,
      state: TaskState.TASK_STATE_WORKING,
      acquire: { owner: 'b', ttlMs: 60_000 },
    });
    expect(answered).toMatchObject({ owner: 'b', fencing: 2 });
    const canceled = await store.tasks.update(task.id, {
      expectedVersion: 4,
      principal: who,
      state: TaskState.TASK_STATE_CANCELED,
      revoke: true,
    });
    expect(canceled).toMatchObject({ owner: undefined, fencing: 3 });
    await expect(store.tasks.fence(task.id, { owner: 'b', fencing: 2, ttlMs: 60_000 })).rejects.toMatchObject(LOST);
  });

  test('tasks without an owner (written before leases) are listed for takeover; finished ones never', async () => {
    const { task: old } = await store.tasks.create({ id: `t${++n}`, contextId: 'c', principal: who });
    expect(old).toMatchObject({ owner: undefined, fencing: 0 });
    // A replica of a release before leases may be running a task it just wrote: left alone for a grace period.
    expect((await store.tasks.lapsed(100, 60_000)).map((t) => t.id)).not.toContain(old.id);
    // One running under such a replica, its run deadline ahead: left alone however old its last change.
    const running = (await store.tasks.create({ id: `t${++n}`, contextId: 'c', principal: who })).task;
    await store.tasks.update(running.id, {
      expectedVersion: 1,
      principal: who,
      state: TaskState.TASK_STATE_WORKING,
      data: { runDeadline: Date.now() + 3_600_000 },
    });
    await fx.sql(
      'leases/tasks',
      `UPDATE tasks SET updated_at = '2000-01-01T00:00:00.000Z' WHERE id IN ('${old.id}', '${running.id}')`,
    );
    expect((await store.tasks.lapsed(100, 60_000)).map((t) => t.id)).toEqual(expect.arrayContaining([old.id]));
    expect((await store.tasks.lapsed(100, 60_000)).map((t) => t.id)).not.toContain(running.id);
    const done = await leased('a', 60_000);
    await store.tasks.update(done.id, {
      expectedVersion: 1,
      principal: who,
      state: TaskState.TASK_STATE_CANCELED,
      revoke: true,
    });
    const ids = (await store.tasks.lapsed()).map((t) => t.id);
    expect(ids).toContain(old.id);
    expect(ids).not.toContain(done.id);
    expect(await store.tasks.acquire(done.id, 'b', 60_000)).toBeUndefined();
  });
});

describe('takeover past a replica frozen mid-transaction (PostgreSQL)', () => {
  let fx: BackendFixture;
  let store: Store;
  beforeAll(async () => {
    fx = await postgresFixture();
    store = await fx.open('leases/frozen');
  });
  afterAll(async () => {
    await store?.close();
    await fx?.cleanup();
  });

  test('a row an open transaction locks is passed over, not waited for; taken once the transaction ends', async () => {
    const make = async (id: string) =>
      (await store.tasks.create({ id, contextId: 'c', principal: who, lease: { owner: 'frozen', ttlMs: 1 } })).task;
    const locked = await make('t-locked');
    const free = await make('t-free');
    await until(async () => (await store.tasks.lapsed()).length === 2);
    // The frozen replica: a transaction that holds the row and never moves on.
    const frozen = new pg.Client({ connectionString: fx.env.DATABASE_URL, options: '-c search_path="leases/frozen"' });
    await frozen.connect();
    try {
      await frozen.query('BEGIN');
      await frozen.query(`SELECT id FROM tasks WHERE id = '${locked.id}' FOR UPDATE`);
      // Waiting here would hang the test: the scan must pass the locked row and take the other.
      expect(await store.tasks.acquire(locked.id, 'b', 60_000, undefined, { skipLocked: true })).toBeUndefined();
      expect(await store.tasks.acquire(free.id, 'b', 60_000, undefined, { skipLocked: true })).toMatchObject({
        fencing: 2,
        previousOwner: 'frozen',
      });
      await frozen.query('ROLLBACK');
    } finally {
      await frozen.end();
    }
    expect(await store.tasks.acquire(locked.id, 'b', 60_000, undefined, { skipLocked: true })).toMatchObject({
      fencing: 2,
      previousOwner: 'frozen',
    });
  });
});

describe.each(BACKENDS)('a run whose state change fails on %s', (_kind, makeFixture) => {
  const AGENT = 'demo/leaser';
  let fx: BackendFixture;
  let store: Store;
  let acted = 0;
  const runtimes: AgentRuntime[] = [];

  beforeAll(async () => {
    fx = await makeFixture();
    store = await fx.open(AGENT);
  });
  afterAll(async () => {
    for (const r of runtimes) await r.close();
    await store?.close();
    await fx?.cleanup();
  });

  const tools: ToolSpec[] = [
    {
      name: 'act',
      description: 'Records one side effect',
      argumentsSchema: { type: 'object' },
      handler: async () => ({ acted: ++acted }),
    },
  ];
  const card = AgentCard.fromPartial({
    name: AGENT,
    version: '1.0.0',
    purpose: 'leases',
    skills: [{ id: 'go', name: 'Go', description: 'acts once', inputSchema: { type: 'object' } }],
  });
  const replica = (audit: TestAudit) => {
    const made = oneToolRuntime({ agent: AGENT, card, store, tools, audit, leaseMs: 300 });
    runtimes.push(made.runtime);
    return made;
  };
  /** The data of a task of skill go for user-1, as the runtime writes it. */
  const taskData = (requestId: string) => ({
    agent: AGENT,
    skillId: 'go',
    subject: 'user-1',
    requestId,
    text: '',
    input: {},
    status: {},
    artifacts: [],
    history: [],
    traceId: '',
    traceContext: {},
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

  test('leaves the task owned but not run; its lease lapses and another replica finishes it, acting once', async () => {
    let refuse = true;
    const a = replica({
      append: async (e) => {
        if (refuse && e.kind === 'task_state' && e.outcome === 'COMPLETED') {
          refuse = false;
          throw new Error('audit trail unavailable');
        }
      },
    });
    const task = await a.runtime.send(request('go', 'r1'), caller);
    await a.runtime.idle(task.id);
    expect(a.log.text()).toContain('task processing failed');
    // Still WORKING and still A's: nothing released on failure, and A no longer renews it.
    expect(await store.tasks.get(task.id)).toMatchObject({
      state: TaskState.TASK_STATE_WORKING,
      owner: a.runtime.replicaId,
    });
    expect(acted).toBe(1);

    const b = replica({ append: async () => undefined });
    await until(async () => (await b.runtime.takeOver()) === 1);
    await b.runtime.idle(task.id);
    expect(await store.tasks.get(task.id)).toMatchObject({ state: TaskState.TASK_STATE_COMPLETED, owner: undefined });
    expect(acted).toBe(1);
    expect(b.log.text()).toContain(`"previous_owner":"${a.runtime.replicaId}"`);
    // A stale write of A is refused.
    await expect(
      store.tasks.fence(task.id, { owner: a.runtime.replicaId, fencing: 1, ttlMs: 300 }),
    ).rejects.toMatchObject({ code: Code.ABORTED });
  });

  test('at start-up a process resumes at once the tasks an earlier process of its SQLite file leased; on PostgreSQL it leaves live leases alone', async () => {
    const before = acted;
    const { task } = await store.tasks.create({
      id: `held-by-a-dead-process-${_kind}`,
      contextId: 'c-dead',
      principal: 'user-1',
      lease: { owner: 'an-earlier-process', ttlMs: 3_600_000 },
      data: taskData('r-dead'),
    });
    const b = replica({ append: async () => undefined });
    const resumed = await b.runtime.resume();
    if (_kind === 'sqlite') {
      expect(resumed).toBe(1);
      await b.runtime.idle(task.id);
      expect((await store.tasks.get(task.id)).state).toBe(TaskState.TASK_STATE_COMPLETED);
      expect(acted).toBe(before + 1);
    } else {
      // Another replica may be alive and running it: its lease stands.
      expect(resumed).toBe(0);
      expect(await store.tasks.get(task.id)).toMatchObject({ owner: 'an-earlier-process' });
      await store.tasks.update(task.id, {
        expectedVersion: 1,
        principal: who,
        state: TaskState.TASK_STATE_CANCELED,
        revoke: true,
      });
    }
    // Its takeover scan would otherwise go on and take the next test's task.
    await b.runtime.close();
  });

  test('a task a release before leases left mid-run is taken over once its run deadline passed, with a new budget, and completes', async () => {
    const before = acted;
    // As the previous release wrote it: no owner, WORKING, its run's deadline behind it.
    const { task } = await store.tasks.create({
      id: 'old-release-task',
      contextId: 'c-old',
      principal: 'user-1',
      requestId: 'r-old',
      data: taskData('r-old'),
    });
    await store.tasks.update(task.id, {
      expectedVersion: 1,
      principal: AGENT,
      state: TaskState.TASK_STATE_WORKING,
      data: { ...(task.data as object), runDeadline: Date.now() - 60_000 },
    });
    await fx.sql(AGENT, `UPDATE tasks SET updated_at = '2000-01-01T00:00:00.000Z' WHERE id = '${task.id}'`);
    const b = replica({ append: async () => undefined });
    await until(async () => (await b.runtime.takeOver()) === 1);
    await b.runtime.idle(task.id);
    const done = await store.tasks.get(task.id);
    expect(done.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(acted).toBe(before + 1);
    const history = await store.events.list(task.id);
    expect(JSON.stringify(history)).toContain('resumed: the release that was running it has stopped');
  });
});
