// openStore's onFailure: told once when the store fails closed (SQLite: a failed WAL sync), so that
// the service can report itself broken (ServiceKit.broken) and be restarted.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { Code, type MeshError } from '../mesh/core/errors.js';
import { loadStateConfig, openStore, type Store } from '../mesh/index.js';
import { groupCommitOf } from '../mesh/state/sqlite-group-commit.js';

/** What a failed sync rejects with, as Node reports it. */
const eio = () => Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });

const refused = {
  code: Code.UNAVAILABLE,
  message: expect.stringMatching(/write-ahead log could not be made durable \(EIO\); restart/),
};

describe('openStore onFailure (SQLite, synchronous=FULL)', () => {
  let dir: string;
  let store: Store;
  const failures: MeshError[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agentmesh-store-failure-'));
    failures.length = 0;
    store = await openStore({
      service: 'demo/failing',
      config: loadStateConfig({ AGENTMESH_DATA_DIR: dir }),
      onFailure: (failure) => failures.push(failure),
    });
  });

  afterEach(async () => {
    await store.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  test('a failed WAL sync is told once, with the error every caller gets', async () => {
    expect(failures).toEqual([]);
    // The real sync of the store's WAL, failing as the disk would (EIO).
    const wal = groupCommitOf(store.context.db as Kysely<unknown>)!.wal!;
    wal.sync = () => Promise.reject(eio());
    const writes = ['a', 'b'].map((id) => store.conversations.create(id, { state: {}, principal: 'user:ada' }));
    for (const write of writes) await expect(write).rejects.toMatchObject(refused);
    await expect(store.conversations.create('c', { state: {}, principal: 'user:ada' })).rejects.toMatchObject(refused);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject(refused);
  });
});
