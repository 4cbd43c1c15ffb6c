import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Code, MeshError } from '../core/index.js';
import { loadStateConfig, openStore, type Store } from '../state/index.js';
import { PendingSubstitutions } from './pending-substitutions.js';

describe('pending substitution records', () => {
  let dir: string;
  let store: Store;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pending-subst-'));
    store = await openStore({ service: 'test/pending', config: loadStateConfig({ AGENTMESH_DATA_DIR: dir }) });
    await store.tasks.create({ id: 't1', contextId: 'c', principal: 'p' });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const record = (stepId: string) => ({
    id: `t1:substitution:${stepId}`,
    taskId: 't1',
    kind: 'substitution',
    record: [{ stepId, path: 'amount', value: 5000 }],
    principal: 'agent',
  });

  test('a step start that rolls back keeps the log for the retried start, which writes it once', async () => {
    const pending = new PendingSubstitutions();
    pending.add('s1', record('s1'));
    // The first start fails after the flush (a conflict or a lost connection the executor retries).
    await expect(
      store.atomically(async (tx) => {
        await pending.flush(tx, 's1');
        throw new MeshError(Code.ABORTED, 'serialization failure');
      }),
    ).rejects.toMatchObject({ code: Code.ABORTED });
    await expect(store.records.get('t1:substitution:s1')).rejects.toMatchObject({ code: Code.NOT_FOUND });
    expect(pending.empty).toBe(false);
    // The retried start commits with the log.
    await store.atomically((tx) => pending.flush(tx, 's1'));
    pending.forget('s1');
    expect((await store.records.get('t1:substitution:s1')).record).toEqual(record('s1').record);
    expect(pending.empty).toBe(true);
  });

  test('forget drops one step or all; a record already written stands when flushed again', async () => {
    const pending = new PendingSubstitutions();
    pending.add('s1', record('s1'));
    pending.add('s2', record('s2'));
    await store.atomically((tx) => pending.flush(tx));
    await store.atomically((tx) => pending.flush(tx, 's1'));
    pending.forget('s1');
    expect(pending.empty).toBe(false);
    pending.forget();
    expect(pending.empty).toBe(true);
    expect((await store.records.list('t1')).map((r) => r.id).sort()).toEqual([
      't1:substitution:s1',
      't1:substitution:s2',
    ]);
  });
});
