import { jest } from '@jest/globals';
import { StepState } from '../gen/agentmesh/v1/plan.js';
import { TaskState } from '../gen/agentmesh/v1/task.js';
import { Code, isMeshError } from '../mesh/core/errors.js';
import type { Store } from '../mesh/index.js';
import { BACKENDS, type BackendFixture } from './helpers/state-backends.js';

const who = 'test';
const WRITERS = 50;

/** Settles all promises and splits them into values and error codes. */
async function settle<T>(promises: Promise<T>[]): Promise<{ values: T[]; codes: (Code | 'not a MeshError')[] }> {
  const results = await Promise.allSettled(promises);
  return {
    values: results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])),
    codes: results.flatMap((r) =>
      r.status === 'rejected' ? [isMeshError(r.reason) ? r.reason.code : 'not a MeshError'] : [],
    ),
  };
}

describe.each(BACKENDS)('state concurrency on %s', (_kind, makeFixture) => {
  let fx: BackendFixture;
  let store: Store;
  beforeAll(async () => {
    fx = await makeFixture();
    store = await fx.open('demo/concurrency');
    // Open the whole pool first, so that the writers below really overlap rather than
    // queueing behind connection setup.
    await Promise.all(Array.from({ length: 20 }, () => store.tasks.find('warm-up')));
  });
  afterAll(async () => {
    await store?.close();
    await fx?.cleanup();
  });

  test('many writers with the same expected version: exactly one wins, the others get ABORTED', async () => {
    await store.tasks.create({ id: 't-race', contextId: 'c', principal: who });
    const { values, codes } = await settle(
      Array.from({ length: WRITERS }, (_, i) =>
        store.tasks.update('t-race', { expectedVersion: 1, principal: `w${i}`, data: { winner: i } }),
      ),
    );
    expect(values).toHaveLength(1);
    expect(codes).toEqual(Array(WRITERS - 1).fill(Code.ABORTED));
    const task = await store.tasks.get('t-race');
    expect(task).toMatchObject({ version: 2, updatedBy: values[0]!.updatedBy, data: values[0]!.data });
    expect((await store.tasks.history('t-race')).map((h) => h.version)).toEqual([1, 2]);
  });

  test('50 writers incrementing a counter with retry-on-ABORTED end at exactly 50: no lost update', async () => {
    await store.conversations.create('ctx-counter', { state: { count: 0 }, principal: who });
    let aborted = 0;
    const increment = async (writer: number) => {
      for (;;) {
        const current = await store.conversations.get('ctx-counter');
        const count = (current.state as { count: number }).count;
        try {
          await store.conversations.update('ctx-counter', {
            expectedVersion: current.version,
            state: { count: count + 1 },
            principal: `w${writer}`,
          });
          return;
        } catch (err) {
          if (!isMeshError(err) || err.code !== Code.ABORTED) throw err;
          aborted++;
        }
      }
    };
    await Promise.all(Array.from({ length: WRITERS }, (_, i) => increment(i)));
    const final = await store.conversations.get('ctx-counter');
    expect(final).toMatchObject({ version: WRITERS + 1, state: { count: WRITERS } });
    const history = await store.conversations.history('ctx-counter');
    expect(history.map((h) => (h.state as { count: number }).count)).toEqual(
      Array.from({ length: WRITERS + 1 }, (_, i) => i),
    );
    expect(new Set(history.slice(1).map((h) => h.principal)).size).toBe(WRITERS);
    expect(aborted).toBeGreaterThan(0); // the race really happened
  });

  test('concurrent transitions from one state: one wins, the rest are ABORTED, never a second transition', async () => {
    await store.tasks.create({ id: 't-cancel', contextId: 'c', principal: who });
    const targets = [TaskState.TASK_STATE_WORKING, TaskState.TASK_STATE_CANCELED, TaskState.TASK_STATE_REJECTED];
    const { values, codes } = await settle(
      Array.from({ length: 30 }, (_, i) =>
        store.tasks.update('t-cancel', { expectedVersion: 1, state: targets[i % 3]!, principal: who }),
      ),
    );
    expect(values).toHaveLength(1);
    expect(codes.every((c) => c === Code.ABORTED)).toBe(true);
    expect((await store.tasks.get('t-cancel')).state).toBe(values[0]!.state);
  });

  test('concurrent duplicates of a request id create exactly one task; all get it', async () => {
    const { values, codes } = await settle(
      Array.from({ length: 20 }, (_, i) =>
        store.tasks.create({ id: `t-dup-${i}`, contextId: 'c', principal: 'client-a', requestId: 'req-1' }),
      ),
    );
    expect(codes).toEqual([]);
    expect(values.filter((v) => v.created)).toHaveLength(1);
    expect(new Set(values.map((v) => v.task.id)).size).toBe(1);
    expect(await store.tasks.list({ contextId: 'c' })).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: values[0]!.task.id })]),
    );
    expect((await store.tasks.list()).filter((t) => t.id.startsWith('t-dup-'))).toHaveLength(1);
    // The key is the caller's: another client's request with the same id is a new task.
    const other = await store.tasks.create({
      id: 't-other-client',
      contextId: 'c',
      principal: 'client-b',
      requestId: 'req-1',
    });
    expect(other.created).toBe(true);
  });

  test('concurrent duplicates of a tool invocation act once; the others get the stored result', async () => {
    let calls = 0;
    const action = async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 50));
      return { charged: 100, call: calls };
    };
    const { values, codes } = await settle(
      Array.from({ length: 20 }, () =>
        store.toolResults.run('pay/order-7', { principal: who, fingerprint: 'f1' }, action),
      ),
    );
    expect(codes).toEqual([]);
    expect(calls).toBe(1);
    expect(values.filter((v) => !v.replayed)).toHaveLength(1);
    expect(values.map((v) => v.result)).toEqual(Array(20).fill({ charged: 100, call: 1 }));
    // Later repeats replay too, and a repeat with other arguments is refused.
    expect(await store.toolResults.run('pay/order-7', { principal: who, fingerprint: 'f1' }, action)).toEqual({
      result: { charged: 100, call: 1 },
      replayed: true,
    });
    await expect(
      store.toolResults.run('pay/order-7', { principal: who, fingerprint: 'f2' }, action),
    ).rejects.toMatchObject({ code: Code.FAILED_PRECONDITION });
    expect(calls).toBe(1);
  });

  test('a failed tool invocation frees its key; a crashed holder is taken over after its lease', async () => {
    await expect(
      store.toolResults.run('k-fail', { principal: who }, async () => Promise.reject(new Error('boom'))),
    ).rejects.toThrow('boom');
    expect(await store.toolResults.run('k-fail', { principal: who }, async () => 'second try')).toEqual({
      result: 'second try',
      replayed: false,
    });

    await fx.sql(
      'demo/concurrency',
      `INSERT INTO tool_results (key, status, owner, principal, lease_until, created_at) VALUES ('k-crashed', 'pending', 'dead-process', 'x', '2000-01-01T00:00:00.000Z', '2000-01-01T00:00:00.000Z')`,
    );
    expect(await store.toolResults.run('k-crashed', { principal: who }, async () => 'recovered')).toEqual({
      result: 'recovered',
      replayed: false,
    });
    // A live holder is waited for, then ABORTED (retryable) when it takes too long. The holder
    // finishes only after the second caller has given up, however slow the machine is.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let acting!: () => void;
    const started = new Promise<void>((r) => (acting = r));
    const slow = store.toolResults.run('k-slow', { principal: who }, async () => {
      acting();
      await gate;
      return 'slow';
    });
    await started;
    await expect(
      store.toolResults.run('k-slow', { principal: who, waitMs: 100 }, async () => 'dup'),
    ).rejects.toMatchObject({ code: Code.ABORTED });
    release();
    expect((await slow).result).toBe('slow');
  });

  test('a live holder is not taken over by a replica whose clock runs two hours ahead', async () => {
    // Leases are judged by the database's clock: a replica with a skewed clock must not act a second time.
    const other = await fx.open('demo/concurrency');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let acting!: () => void;
    const started = new Promise<void>((r) => (acting = r));
    const first = store.toolResults.run('k-skew', { principal: who, leaseMs: 60_000 }, async () => {
      acting();
      await gate;
      return 'first';
    });
    await started;
    // Fake only Date (a skewed wall clock); the database driver's timers stay real.
    jest.useFakeTimers({
      now: Date.now() + 2 * 3_600_000,
      doNotFake: [
        'hrtime',
        'nextTick',
        'performance',
        'queueMicrotask',
        'setImmediate',
        'clearImmediate',
        'setInterval',
        'clearInterval',
        'setTimeout',
        'clearTimeout',
      ],
    });
    try {
      await expect(
        other.toolResults.run('k-skew', { principal: who, waitMs: 0 }, async () => 'second'),
      ).rejects.toMatchObject({ code: Code.ABORTED });
    } finally {
      jest.useRealTimers();
      release();
    }
    expect(await first).toEqual({ result: 'first', replayed: false });
    await other.close();
  });

  test('concurrent event appends and step records get gapless, unique sequences', async () => {
    await store.tasks.create({ id: 't-seq', contextId: 'c', principal: who });
    await store.tasks.update('t-seq', { expectedVersion: 1, state: TaskState.TASK_STATE_WORKING, principal: who });
    const events = await Promise.all(Array.from({ length: 30 }, (_, i) => store.events.append('t-seq', { n: i }, who)));
    const steps = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        store.steps.record('t-seq', { stepId: `s${i}`, state: StepState.STEP_STATE_RUNNING, principal: who }),
      ),
    );
    expect(events.map((e) => e.sequence).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(steps.map((s) => s.sequence).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(await store.checkIntegrity()).toEqual([]);
  });
});
