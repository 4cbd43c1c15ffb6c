import { randomUUID } from 'node:crypto';
import { TaskState } from '../gen/agentmesh/v1/task.js';
import { TASK_CHANNEL, type Store } from '../mesh/index.js';
import { BACKENDS, postgresFixture, type BackendFixture } from './helpers/state-backends.js';

// Change notices: a follower hears of a committed change (in this process or another sharing
// the store), never of a rolled-back one, and is told to re-read when notices may have been lost.

/** Collects a channel's notices; `next()` resolves with the next one (or one already heard). */
async function follow(store: Store, channel = TASK_CHANNEL) {
  const heard: (string | undefined)[] = [];
  let wake: (() => void) | undefined;
  const stop = await store.notices.listen(channel, (payload) => {
    heard.push(payload);
    wake?.();
  });
  return {
    heard,
    stop,
    async next(): Promise<string | undefined> {
      while (heard.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      return heard.shift();
    },
  };
}

const newTask = (id: string = randomUUID()) => ({
  id,
  contextId: randomUUID(),
  principal: 'ada',
  events: [{ statusUpdate: { status: { state: 'TASK_STATE_SUBMITTED' } } }],
});

describe.each(BACKENDS)('change notices on %s', (_name, makeFixture) => {
  let fx: BackendFixture;
  let store: Store;
  beforeAll(async () => {
    fx = await makeFixture();
    store = await fx.open('lending/notices');
  });
  afterAll(async () => {
    await store.close();
    await fx.cleanup();
  });

  test('a committed task change is heard once in the writing process; a rolled-back one never', async () => {
    const f = await follow(store);
    const rolledBack = randomUUID();
    await expect(
      store.atomically(async (tx) => {
        await tx.tasks.create(newTask(rolledBack));
        throw new Error('changed my mind');
      }),
    ).rejects.toMatchObject({ cause: { message: 'changed my mind' } });
    const { task } = await store.tasks.create(newTask());
    await store.tasks.update(task.id, {
      expectedVersion: 1,
      principal: 'agent',
      state: TaskState.TASK_STATE_WORKING,
      events: [{ statusUpdate: { status: { state: 'TASK_STATE_WORKING' } } }],
    });
    expect(await f.next()).toBe(task.id);
    expect(await f.next()).toBe(task.id);
    // A later change heard next proves nothing came between: not the rolled-back task, and not our own
    // notices a second time over the wire (PostgreSQL delivers notices in commit order, so a change
    // committed by another process arrives after any echo of ours).
    const fence = randomUUID();
    const second = fx.kind === 'postgres' ? await fx.open('lending/notices') : undefined;
    await (second ?? store).tasks.create(newTask(fence));
    expect(await f.next()).toBe(fence);
    expect(f.heard).toEqual([]);
    f.stop();
    await second?.close();
  });
});

describe('change notices between processes sharing PostgreSQL', () => {
  let fx: BackendFixture;
  let writer: Store;
  let reader: Store;
  let elsewhere: Store;
  beforeAll(async () => {
    fx = await postgresFixture();
    writer = await fx.open('lending/notices');
    reader = await fx.open('lending/notices');
    elsewhere = await fx.open('lending/other');
  });
  afterAll(async () => {
    await Promise.all([writer.close(), reader.close(), elsewhere.close()]);
    await fx.cleanup();
  });

  test('another replica hears each committed change in commit order, not one rolled back; another service hears nothing', async () => {
    const f = await follow(reader);
    const other = await follow(elsewhere);
    await writer
      .atomically(async (tx) => {
        await tx.tasks.create(newTask('rolled-back'));
        throw new Error('no');
      })
      .catch(() => undefined);
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    for (const id of ids) await writer.tasks.create(newTask(id));
    expect([await f.next(), await f.next(), await f.next()]).toEqual(ids);
    // The task is readable when its notice arrives (NOTIFY is delivered at commit).
    await expect(reader.tasks.get(ids[2]!)).resolves.toMatchObject({ id: ids[2] });
    // A notice on a channel of the other service proves its listener works, and that it heard none of ours.
    await elsewhere.atomically(async (tx) => {
      await tx.tasks.create(newTask('own'));
    });
    expect(await other.next()).toBe('own');
    expect(other.heard).toEqual([]);
    f.stop();
    other.stop();
  });

  test('when the notice connection is lost, the follower is told to re-read and hears later changes', async () => {
    const f = await follow(reader);
    await fx.sql(
      'lending/notices',
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'lending/notices notices' AND pid <> pg_backend_pid()",
    );
    // Every notices connection of the service was cut (the writer's too, which listens to nothing).
    expect(await f.next()).toBeUndefined();
    const id = randomUUID();
    await writer.tasks.create(newTask(id));
    expect(await f.next()).toBe(id);
    f.stop();
  });
});
