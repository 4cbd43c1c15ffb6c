import { setTimeout as sleep } from 'node:timers/promises';
import { TaskState } from '../gen/agentmesh/v1/task.js';
import { Code, isMeshError } from '../mesh/core/errors.js';
import type { Store } from '../mesh/index.js';
import { postgresFixture, restartPostgres, type BackendFixture } from './helpers/state-backends.js';

const who = 'test';

describe('PostgreSQL restarted under load', () => {
  let fx: BackendFixture;
  let store: Store;
  // The writers' stop, set by afterAll too: a test that timed out leaves none of them running.
  let stop = false;
  beforeAll(async () => {
    // This test restarts the server, so it must not hold the lock that makes it wait for others.
    fx = await postgresFixture({ holdServer: false });
    store = await fx.open('demo/restart', { AGENTMESH_DB_POOL_MAX: '4', AGENTMESH_DB_RECONNECT_MS: '20000' });
  });
  afterAll(async () => {
    stop = true;
    await store?.close();
    await fx?.cleanup();
  });

  test('the pool recovers: writes succeed afterwards on the same store, and no acknowledged write is lost', async () => {
    const acknowledged: string[] = [];
    const failures: unknown[] = [];
    let restarted = false;
    let acknowledgedAfterRestart = 0;
    const writer = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const id = `w${w}-${i}`;
        try {
          await store.tasks.create({ id, contextId: `ctx-${w}`, principal: who });
          await store.tasks.update(id, { expectedVersion: 1, state: TaskState.TASK_STATE_WORKING, principal: who });
          acknowledged.push(id);
          if (restarted) acknowledgedAfterRestart++;
        } catch (err) {
          failures.push(err);
          await sleep(20);
        }
      }
    };
    const load = Array.from({ length: 8 }, (_, w) => writer(w));
    while (acknowledged.length < 50) await sleep(10);

    await restartPostgres();
    restarted = true;
    // Reconnecting takes what the machine gives it: jest's timeout is the bound.
    while (acknowledgedAfterRestart < 50) await sleep(20);
    stop = true;
    await Promise.all(load);

    expect(acknowledgedAfterRestart).toBeGreaterThanOrEqual(50);
    // Writes cut off by the restart fail with a status callers know to retry, nothing else.
    expect(failures.map((e) => (isMeshError(e) ? Code[e.code] : String(e))).filter((c) => c !== 'UNAVAILABLE')).toEqual(
      [],
    );
    const lost = [];
    for (const id of acknowledged) {
      const task = await store.tasks.find(id);
      if (task?.state !== TaskState.TASK_STATE_WORKING) lost.push(id);
    }
    expect(lost).toEqual([]);
    expect(await store.checkIntegrity()).toEqual([]);
  }, 60_000); // includes waiting for other state suites to release the server
});
