import { GroupCommit, NeedsSavepoint } from './group-commit.js';

// A transaction over an in-memory list: rows written in it are kept only if it commits;
// a savepoint restores the rows as they were before the write.
interface Tx {
  rows: string[];
  changes: number;
}

function store() {
  const committed: string[] = [];
  let transactions = 0;
  const group = new GroupCommit<Tx>({
    transaction: async (body) => {
      transactions++;
      const tx = { rows: [...committed], changes: 0 };
      await body(tx);
      committed.splice(0, committed.length, ...tx.rows);
    },
    isolate: async (tx, write) => {
      const saved = [...tx.rows];
      try {
        return await write(tx);
      } catch (err) {
        tx.rows = saved;
        throw err;
      }
    },
    attempt: async (tx, write) => {
      const before = tx.changes;
      try {
        return await write(tx);
      } catch (err) {
        if (tx.changes !== before) throw new NeedsSavepoint(err);
        throw err;
      }
    },
  });
  return { group, committed, transactions: () => transactions };
}

const insert = (row: string) => async (tx: Tx) => {
  tx.changes++;
  tx.rows.push(row);
  return row;
};

describe('GroupCommit', () => {
  test('writes submitted together commit in one transaction, each answered with its own result', async () => {
    const s = store();
    const answers = await Promise.all(['a', 'b', 'c'].map((r) => s.group.submit(insert(r))));
    expect(answers).toEqual(['a', 'b', 'c']);
    expect(s.committed).toEqual(['a', 'b', 'c']);
    expect(s.transactions()).toBe(1);
  });

  test('a write refused before changing anything fails alone', async () => {
    const s = store();
    const refused = s.group.submit(async () => {
      throw new Error('refused');
    });
    const others = [s.group.submit(insert('a')), s.group.submit(insert('b'))];
    await expect(refused).rejects.toThrow('refused');
    expect(await Promise.all(others)).toEqual(['a', 'b']);
    expect(s.committed).toEqual(['a', 'b']);
    expect(s.transactions()).toBe(1);
  });

  test('a write failing after a change is undone alone: the batch runs again with savepoints', async () => {
    const s = store();
    const first = s.group.submit(insert('a'));
    const broken = s.group.submit(async (tx) => {
      await insert('half')(tx);
      throw new Error('failed midway');
    });
    const last = s.group.submit(insert('b'));
    await expect(broken).rejects.toThrow('failed midway');
    expect([await first, await last]).toEqual(['a', 'b']);
    expect(s.committed).toEqual(['a', 'b']);
  });

  test('a transaction that cannot commit fails every write of it', async () => {
    const group = new GroupCommit<Tx>({
      transaction: async (body) => {
        await body({ rows: [], changes: 0 });
        throw new Error('disk full');
      },
      isolate: (tx, write) => write(tx),
    });
    const writes = ['a', 'b'].map((r) => group.submit(insert(r)));
    for (const w of writes) await expect(w).rejects.toThrow('disk full');
  });
});
