import { readFileSync } from 'node:fs';
import type { RegistryServiceService, WatchResponse } from '../gen/agentmesh/v1/registry_service.js';
import { ChangeType } from '../gen/agentmesh/v1/registry_service.js';
import { Lifecycle } from '../gen/agentmesh/v1/card.js';
import { Code, type MeshClient } from '../mesh/index.js';
import { agentCard, endpoint } from './helpers/registry-server.js';
import { startRegistryReplicas, type RegistryReplica, type RegistryReplicas } from './helpers/registry-replicas.js';
import { postgresFixture, type BackendFixture } from './helpers/state-backends.js';

type RegistryClient = MeshClient<typeof RegistryServiceService>;

const WORKLOADS = ['lending/credit-risk', 'lending/orchestrator', 'payments/ledger', 'payments/fraud'];
const byName = (name: string) => ({
  scope: { visibility: { names: [name], namespaces: [], patterns: [] }, characteristics: undefined },
  maxResults: 10,
});
const pause = () => new Promise((r) => setTimeout(r, 50));

/** Polls until `check` holds; another process's progress shows only in its answers (the test's timeout is the bound). */
async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await pause();
}

const addressesOn = async (client: RegistryClient, name: string) =>
  (await client.discover(byName(name))).matches.flatMap((m) =>
    m.entry?.card?.$case === 'agent' ? m.entry.card.agent.endpoints.map((e) => e.address) : [],
  );

/** Collects a Watch stream until `done` says so, or the stream is aborted. */
function watching(client: RegistryClient, fromRevision: number, done: (seen: WatchResponse[]) => boolean) {
  const controller = new AbortController();
  const seen: WatchResponse[] = [];
  const finished = (async () => {
    try {
      for await (const change of client.watch(
        { fromRevision, kinds: [], progressInterval: undefined },
        { signal: controller.signal, deadlineMs: Infinity },
      )) {
        seen.push(change);
        if (done(seen)) break;
      }
    } catch (err) {
      if (!controller.signal.aborted) throw err;
    }
    return seen;
  })();
  return { seen, finished, abort: () => controller.abort() };
}

const versionOf = (c: WatchResponse) => (c.entry?.card?.$case === 'agent' ? c.entry.card.agent.version : '');

describe('registry replicas over one PostgreSQL', () => {
  let fx: BackendFixture;
  let mesh: RegistryReplicas;
  let a: RegistryReplica, b: RegistryReplica, c: RegistryReplica;

  beforeAll(async () => {
    fx = await postgresFixture();
    mesh = await startRegistryReplicas(
      3,
      { ...fx.env, AGENTMESH_REGISTRY_LEASE_MIN_MS: '500', AGENTMESH_REGISTRY_SWEEP_MS: '100' },
      WORKLOADS,
      ['agentmesh/admin'],
    );
    [a, b, c] = mesh.replicas as [RegistryReplica, RegistryReplica, RegistryReplica];
  }, 180_000);

  afterAll(async () => {
    await mesh?.stop();
    await fx?.cleanup();
  });

  const changesOf = async (key: string) =>
    (
      await fx.sql(
        'agentmesh/registry',
        `SELECT change FROM registry_changes WHERE entry_key = '${key}' ORDER BY revision`,
      )
    ).map((r) => r.change);

  test('a registration through A is discovered and listed on B and C; B renews its lease, C ends it', async () => {
    const onA = await mesh.clientAs('lending/credit-risk', a);
    const onB = await mesh.clientAs('lending/credit-risk', b);
    const onC = await mesh.clientAs('lending/credit-risk', c);
    const readB = await mesh.clientAs('lending/orchestrator', b);
    const readC = await mesh.clientAs('lending/orchestrator', c);
    const lease = await onA.registerAgent({
      card: agentCard('lending/credit-risk'),
      endpoint: endpoint('a-1', 7101),
      leaseTtl: { seconds: 60, nanos: 0 },
    });

    await until(async () => (await addressesOn(readB, 'lending/credit-risk')).includes('127.0.0.1:7101'));
    await until(async () =>
      (
        await readC.listAgents({ namespace: 'lending', pageSize: 0, pageToken: '', includeInactive: false })
      ).agents.some((x) => x.name === 'lending/credit-risk' && x.endpoints.some((e) => e.address === '127.0.0.1:7101')),
    );

    // The lease was granted by A; B renews it in the shared store.
    const renewed = await onB.heartbeat({ leaseId: lease.leaseId });
    expect(renewed.expiresAt!.getTime()).toBeGreaterThanOrEqual(lease.expiresAt!.getTime());

    await onC.deregister({ leaseId: lease.leaseId });
    await until(async () => (await addressesOn(readB, 'lending/credit-risk')).length === 0);
    await until(
      async () =>
        (await addressesOn(await mesh.clientAs('lending/orchestrator', a), 'lending/credit-risk')).length === 0,
    );
    // Ended for every replica: none renews it any more.
    await expect(onA.heartbeat({ leaseId: lease.leaseId })).rejects.toMatchObject({ code: Code.NOT_FOUND });
    await expect(onB.heartbeat({ leaseId: lease.leaseId })).rejects.toMatchObject({ code: Code.NOT_FOUND });
    expect(await changesOf('agent:lending/credit-risk@1.0.0')).toEqual(['ADDED', 'REMOVED']);
  });

  test('an external A2A agent registered through A is discoverable on B and C, without a lease, until retired through C', async () => {
    const admin = await mesh.clientAs('agentmesh/admin', a);
    const retirer = await mesh.clientAs('agentmesh/admin', c);
    const readB = await mesh.clientAs('lending/orchestrator', b);
    const readC = await mesh.clientAs('lending/orchestrator', c);
    const a2a = {
      name: 'Weather',
      description: 'Forecasts.',
      version: '1.0.0',
      supportedInterfaces: [{ url: 'weather.example:50051', protocolBinding: 'GRPC', protocolVersion: '1.0' }],
      skills: [{ id: 'forecast', name: 'Forecast', description: 'a forecast', tags: [] }],
    };
    await admin.registerExternalAgent({
      card: agentCard('partners/weather', {
        identity: '',
        a2a: { card: a2a, cardUrl: '', external: true, caPem: '' },
      }),
    });
    await until(async () => (await addressesOn(readB, 'partners/weather')).includes('weather.example:50051'));
    await until(async () => (await addressesOn(readC, 'partners/weather')).includes('weather.example:50051'));
    await retirer.setLifecycle({
      name: 'partners/weather',
      version: '',
      lifecycle: Lifecycle.LIFECYCLE_RETIRED,
      reason: 'contract ended',
    });
    await until(async () => (await addressesOn(readB, 'partners/weather')).length === 0);
    expect(await changesOf('agent:partners/weather@1.0.0')).toEqual(['ADDED', 'REMOVED']);
  });

  test("Watch on B delivers A's changes in revision order and resumes from a revision after reconnecting", async () => {
    const writer = await mesh.clientAs('payments/fraud', a);
    const closer = await mesh.clientAs('payments/fraud', c);
    const watcher = await mesh.clientAs('lending/orchestrator', b);
    const from = (await watcher.discover(byName('payments/fraud'))).revision;
    const mine = (c: WatchResponse) => versionOf(c) === '3.0.0';

    const first = watching(watcher, from, (seen) => seen.some(mine));
    const added = await writer.registerAgent({
      card: agentCard('payments/fraud', { version: '3.0.0' }),
      endpoint: endpoint('f-1', 7301),
      leaseTtl: { seconds: 60, nanos: 0 },
    });
    const beforeReconnect = await first.finished;
    const last = beforeReconnect.at(-1)!;
    expect(last.change).toBe(ChangeType.CHANGE_TYPE_ADDED);
    expect(last.revision).toBe(added.revision);

    // Disconnected: changes go on through A and C.
    const updated = await writer.registerAgent({
      card: agentCard('payments/fraud', { version: '3.0.0', purpose: 'Fraud checks, updated' }),
      endpoint: endpoint('f-1', 7301),
      leaseTtl: { seconds: 60, nanos: 0 },
    });
    await closer.deregister({ leaseId: updated.leaseId });

    const resumed = watching(watcher, last.revision, (seen) =>
      seen.some((x) => mine(x) && x.change === ChangeType.CHANGE_TYPE_REMOVED),
    );
    const afterReconnect = await resumed.finished;
    expect(afterReconnect.filter(mine).map((x) => x.change)).toEqual([
      ChangeType.CHANGE_TYPE_UPDATED,
      ChangeType.CHANGE_TYPE_REMOVED,
    ]);
    expect(afterReconnect[0]!.revision).toBeGreaterThan(last.revision);
    const all = [...beforeReconnect, ...afterReconnect].map((x) => x.revision);
    expect(all).toEqual([...new Set(all)].sort((x, y) => x - y));
    expect(afterReconnect.find(mine)!.revision).toBe(updated.revision);

    // C replays the same changes, with the same revisions, from the same starting point.
    const fromC = watching(await mesh.clientAs('lending/orchestrator', c), from, (seen) =>
      seen.some((x) => mine(x) && x.change === ChangeType.CHANGE_TYPE_REMOVED),
    );
    expect((await fromC.finished).map((x) => x.revision)).toEqual(all);
  });

  test('a replica whose notice connection was cut re-reads what it missed once it is back', async () => {
    const writer = await mesh.clientAs('payments/ledger', a);
    const readB = await mesh.clientAs('lending/orchestrator', b);
    // B is paused while its notice connection is cut and A writes: the notice of that write is lost to B for sure.
    b.process.child.kill('SIGSTOP');
    let lease: Awaited<ReturnType<RegistryClient['registerAgent']>>;
    try {
      const cut = await fx.sql(
        'agentmesh/registry',
        `SELECT pg_terminate_backend(pid) AS cut FROM pg_stat_activity
         WHERE datname = current_database() AND application_name LIKE '%notices'`,
      );
      expect(cut.length).toBeGreaterThan(0);
      lease = await writer.registerAgent({
        card: agentCard('payments/ledger', { version: '4.0.0' }),
        endpoint: endpoint('g-1', 7701),
        leaseTtl: { seconds: 60, nanos: 0 },
      });
    } finally {
      b.process.child.kill('SIGCONT');
    }
    await until(async () => (await addressesOn(readB, 'payments/ledger')).includes('127.0.0.1:7701'));
    // And it follows again afterwards.
    await (await mesh.clientAs('payments/ledger', c)).deregister({ leaseId: lease.leaseId });
    await until(async () => (await addressesOn(readB, 'payments/ledger')).length === 0);
  });

  test('a lease nobody renews is swept once, by one replica, and every replica drops it', async () => {
    const ledger = await mesh.clientAs('payments/ledger', a);
    // Renewed below until every replica knows it: each renewal must come within one TTL of the one
    // before, and 5 s (not 1) leaves room for a descheduled process on a loaded machine.
    const lease = await ledger.registerAgent({
      card: agentCard('payments/ledger'),
      endpoint: endpoint('l-1', 7401),
      leaseTtl: { seconds: 5, nanos: 0 },
    });
    const readers = await Promise.all([a, b, c].map((r) => mesh.clientAs('lending/orchestrator', r)));
    // Alive (renewed) until every replica knows it; then its service stops renewing.
    for (const reader of readers) {
      await until(async () => {
        await ledger.heartbeat({ leaseId: lease.leaseId });
        return (await addressesOn(reader, 'payments/ledger')).length === 1;
      });
    }
    for (const reader of readers) await until(async () => (await addressesOn(reader, 'payments/ledger')).length === 0);
    expect(await changesOf('agent:payments/ledger@1.0.0')).toEqual(['ADDED', 'REMOVED']);
    // The replica that swept it says so; the others found nothing left to sweep.
    const sweptBy = () =>
      [a, b, c].filter((r) =>
        readFileSync(r.logFile, 'utf8')
          .split('\n')
          .some((line) => line.includes('leases lapsed') && line.includes(lease.leaseId)),
      );
    await until(async () => sweptBy().length > 0);
    expect(sweptBy()).toHaveLength(1);
    await expect(ledger.heartbeat({ leaseId: lease.leaseId })).rejects.toMatchObject({ code: Code.NOT_FOUND });
  }, 60_000);

  test('a lease renewed through the other replicas for several TTLs is never swept by any of them', async () => {
    // Each renewal must come within one TTL of the one before: 5 s leaves room for a descheduled
    // process on a loaded machine.
    const ttlMs = 5_000;
    const orchestrator = await mesh.clientAs('lending/orchestrator', a);
    const renewers = [await mesh.clientAs('lending/orchestrator', b), await mesh.clientAs('lending/orchestrator', c)];
    const lease = await orchestrator.registerAgent({
      card: agentCard('lending/orchestrator', { version: '2.0.0' }),
      endpoint: endpoint('o-1', 7501),
      leaseTtl: { seconds: ttlMs / 1000, nanos: 0 },
    });
    const granted = lease.expiresAt!.getTime();
    let latest = granted;
    let heartbeats = 0;
    // Run by the database's clock (the expiry each renewal returns): three TTLs past the first grant.
    while (latest - granted < 3 * ttlMs) {
      const renewed = await renewers[heartbeats % 2]!.heartbeat({ leaseId: lease.leaseId });
      latest = renewed.expiresAt!.getTime();
      heartbeats++;
      await new Promise((r) => setTimeout(r, 100));
    }
    // Through both other replicas.
    expect(heartbeats).toBeGreaterThanOrEqual(2);
    for (const replica of [a, b, c]) {
      const reader = await mesh.clientAs('payments/fraud', replica);
      expect(await addressesOn(reader, 'lending/orchestrator')).toEqual(['127.0.0.1:7501']);
    }
    expect(await changesOf('agent:lending/orchestrator@2.0.0')).toEqual(['ADDED']);
  }, 60_000); // three 5 s TTLs of renewals

  test('registrations through all replicas at once get distinct revisions from one gap-free log', async () => {
    const clients = await Promise.all([a, b, c].map((r) => mesh.clientAs('payments/fraud', r)));
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        clients[i % 3]!.registerAgent({
          card: agentCard('payments/fraud', { version: `5.0.${i}` }),
          endpoint: endpoint(`p-${i}`, 7600 + i),
          leaseTtl: { seconds: 60, nanos: 0 },
        }),
      ),
    );
    const revisions = results.map((r) => r.revision);
    expect(new Set(revisions).size).toBe(12);
    const logged = (await fx.sql('agentmesh/registry', 'SELECT revision FROM registry_changes ORDER BY revision')).map(
      (r) => Number(r.revision),
    );
    expect(logged).toEqual(Array.from({ length: logged.length }, (_, i) => i + 1));
    expect(logged).toEqual(expect.arrayContaining(revisions));
    // Every replica reaches the same revision and shows all twelve.
    const top = Math.max(...revisions);
    for (const replica of [a, b, c]) {
      const reader = await mesh.clientAs('lending/orchestrator', replica);
      await until(async () => (await reader.discover(byName('payments/fraud'))).revision >= top);
      const versions = (await reader.getAgent({ name: 'payments/fraud', version: '' })).versions;
      expect(versions.filter((v) => v.startsWith('5.0.'))).toHaveLength(12);
    }
  });

  test('a replica started later serves what the others registered from its first answer', async () => {
    const ledger = await mesh.clientAs('payments/ledger', a);
    await ledger.registerAgent({
      card: agentCard('payments/ledger', { version: '6.0.0' }),
      endpoint: endpoint('late-1', 7801),
      leaseTtl: { seconds: 60, nanos: 0 },
    });
    const late = await mesh.addReplica();
    // Ready only once it caught up with the store: no waiting for it here.
    const reader = await mesh.clientAs('lending/orchestrator', late);
    expect(await addressesOn(reader, 'payments/ledger')).toContain('127.0.0.1:7801');
    const top = (await (await mesh.clientAs('lending/orchestrator', a)).discover(byName('payments/ledger'))).revision;
    expect((await reader.discover(byName('payments/ledger'))).revision).toBeGreaterThanOrEqual(top);
  });

  test('rows of an older registry beside these during an upgrade: its lease expires by expires_at, its revisions are not reused', async () => {
    const fraud = await mesh.clientAs('payments/fraud', a);
    const lease = await fraud.registerAgent({
      card: agentCard('payments/fraud', { version: '8.0.0' }),
      endpoint: endpoint('old-1', 7901),
      leaseTtl: { seconds: 60, nanos: 0 },
    });
    // What a registry before 0004_registry_replicas writes: no expires_ms, and a change logged past the counter.
    const key = 'agent:payments/fraud@8.0.0';
    // One statement (one transaction): a replica's sweep must not expire the lease between the two.
    await fx.sql(
      'agentmesh/registry',
      `WITH expired AS (
         UPDATE registry_leases SET expires_ms = NULL, expires_at = now() - interval '1 second'
         WHERE lease_id = '${lease.leaseId}' RETURNING lease_id)
       INSERT INTO registry_changes (revision, change, entry_key, entry, principal, at)
       SELECT MAX(revision) + 1, 'UPDATED', '${key}',
              (SELECT entry FROM registry_changes WHERE entry_key = '${key}' ORDER BY revision LIMIT 1), 'older', now()
       FROM registry_changes`,
    );
    await until(async () => (await changesOf(key)).includes('REMOVED'));
    expect(await changesOf(key)).toEqual(['ADDED', 'UPDATED', 'REMOVED']);
    const reader = await mesh.clientAs('lending/orchestrator', b);
    await until(async () => (await addressesOn(reader, 'payments/fraud')).every((x) => x !== '127.0.0.1:7901'));
    const logged = (await fx.sql('agentmesh/registry', 'SELECT revision FROM registry_changes ORDER BY revision')).map(
      (r) => Number(r.revision),
    );
    expect(logged).toEqual(Array.from({ length: logged.length }, (_, i) => i + 1));
  });
});
