import { EntryKind } from '../gen/agentmesh/v1/card.js';
import { ChangeType, type WatchResponse } from '../gen/agentmesh/v1/registry_service.js';
import { Code } from '../mesh/index.js';
import {
  agentCard,
  cleanupDir,
  endpoint,
  REGISTRY_CLIENTS,
  registryClientAs,
  startRegistry,
  type RegistryUnderTest,
} from './helpers/registry-server.js';
import { createSecureFixture, type SecureFixture } from './helpers/secure-mesh.js';

const RW = ['registry.register', 'registry.read'];

describe('Watch progress responses', () => {
  let fx: SecureFixture;
  let reg: RegistryUnderTest;

  beforeAll(async () => {
    fx = await createSecureFixture(REGISTRY_CLIENTS);
    reg = await startRegistry(fx);
  });
  afterAll(async () => {
    await reg.stop();
    cleanupDir(reg.dataDir);
    await fx.close();
  });

  test('a Watch that asks for progress hears at once that it is live, then whenever it is quiet, changes in between', async () => {
    const risk = await registryClientAs(fx, reg.address, 'lending/credit-risk', RW);
    const watcher = await registryClientAs(fx, reg.address, 'lending/orchestrator', ['registry.read']);
    await risk.registerAgent({ card: agentCard('lending/credit-risk'), endpoint: endpoint('p1'), leaseTtl: undefined });
    const from = reg.registry.revision;
    const controller = new AbortController();
    // Only tool changes: an agent change moves the revision the next progress response reports, unseen.
    const responses = watcher.watch(
      { fromRevision: from, kinds: [EntryKind.ENTRY_KIND_TOOL], progressInterval: { seconds: 0, nanos: 200e6 } },
      { signal: controller.signal, deadlineMs: Infinity },
    );
    const stream = responses[Symbol.asyncIterator]();
    const next = async (): Promise<WatchResponse> => (await stream.next()).value as WatchResponse;
    try {
      // Nothing changed since `from`: the first response says the stream is live at that revision.
      expect(await next()).toMatchObject({ change: ChangeType.CHANGE_TYPE_PROGRESS, revision: from, entry: undefined });
      await risk.registerAgent({
        card: agentCard('lending/credit-risk', { version: '2.0.0' }),
        endpoint: endpoint('p2'),
        leaseTtl: undefined,
      });
      const after = reg.registry.revision;
      expect(after).toBeGreaterThan(from);
      // The agent change is not shown to this watcher, but the next progress response covers it.
      let progress = await next();
      while (progress.revision < after) progress = await next();
      expect(progress).toMatchObject({ change: ChangeType.CHANGE_TYPE_PROGRESS, revision: after });
    } finally {
      controller.abort();
      await stream.return?.();
      watcher.close();
      risk.close();
    }
  });

  test('a progress interval out of bounds is INVALID_ARGUMENT', async () => {
    const watcher = await registryClientAs(fx, reg.address, 'lending/orchestrator', ['registry.read']);
    try {
      const tooOften = (async () => {
        for await (const c of watcher.watch(
          { fromRevision: 0, kinds: [], progressInterval: { seconds: 0, nanos: 10e6 } },
          { deadlineMs: 60_000 }, // a bound for a stream that would stay open, not a speed expectation
        ))
          void c;
      })();
      await expect(tooOften).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    } finally {
      watcher.close();
    }
  });
});
