import { setTimeout as sleep } from 'node:timers/promises';
import type { Store } from '../mesh/index.js';
import { startProcess } from './helpers/processes.js';
import { BACKENDS, type BackendFixture } from './helpers/state-backends.js';

const ACKS_BEFORE_KILL = 400;

/** Checks one acknowledged write; returns what is missing, or undefined. */
async function missing(store: Store, line: string): Promise<string | undefined> {
  const [kind, id, n] = line.split(' ') as [string, string, string | undefined];
  switch (kind) {
    case 'task': {
      const task = await store.tasks.find(id);
      return task !== undefined && task.version >= Number(n) ? undefined : `task ${id} version ${n}`;
    }
    case 'step':
      return (await store.steps.list(id)).length >= Number(n) ? undefined : `step transition ${n} of ${id}`;
    case 'tool': {
      // As the writer (test/fixtures/state-writer.ts): a stored result is replayed to the caller that stored it only.
      const principal = 'spiffe://agentmesh.local/ns/crash/sa/writer';
      const { replayed } = await store.toolResults.run(id, { principal }, async () => 'acted again');
      return replayed ? undefined : `tool result ${id}`;
    }
    case 'conv': {
      const version = await store.conversations.version(id, Number(n)).catch(() => undefined);
      return version === undefined ? `conversation ${id} version ${n}` : undefined;
    }
    default:
      return `unparseable ack ${line}`;
  }
}

describe.each(BACKENDS)('state after kill -9 on %s', (_kind, makeFixture) => {
  let fx: BackendFixture;
  beforeAll(async () => {
    fx = await makeFixture();
  });
  afterAll(async () => {
    await fx?.cleanup();
  });

  test('a writer killed mid-burst loses no acknowledged write and corrupts nothing', async () => {
    const child = startProcess('test/fixtures/state-writer.ts', fx.env);
    try {
      const acks = () =>
        child
          .stdout()
          .split('\n')
          .filter((l) => l.startsWith('ack '));
      // Another process, as fast as the machine lets it: jest's timeout is the bound.
      while (acks().length < ACKS_BEFORE_KILL) {
        if (child.child.exitCode !== null) throw new Error(`writer stopped early:\n${child.stderr()}`);
        await sleep(10);
      }
      child.child.kill('SIGKILL');
      expect(await child.exited).toBe('SIGKILL');
    } finally {
      child.child.kill('SIGKILL');
    }
    const acknowledged = child
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('ack '))
      .map((l) => l.slice(4));
    expect(acknowledged.length).toBeGreaterThanOrEqual(ACKS_BEFORE_KILL);

    const store = await fx.open('crash/writer');
    try {
      const problems = (await Promise.all(acknowledged.map((line) => missing(store, line)))).filter(
        (p) => p !== undefined,
      );
      expect(problems).toEqual([]);
      expect(await store.checkIntegrity()).toEqual([]);
      // The killed writer's in-flight tasks are found for resuming.
      expect((await store.steps.unfinished()).length).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  }, 120_000); // a process started and 400 writes acknowledged, on a machine that may be busy
});
