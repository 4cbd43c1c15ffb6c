import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentCard } from '../gen/agentmesh/v1/card.js';
import { Code, createLogger, loadStateConfig, openStore, type Principal, type Store } from '../mesh/index.js';
import { Registry } from '../services/registry/registry.js';
import { cleanupDir } from './helpers/registry-server.js';

// Registrations arriving together are committed together (one transaction, one fsync); each
// caller must still get its own answer, and what was answered OK must be what a restart finds.

const identityOf = (name: string) => `spiffe://agentmesh.local/ns/${name.split('/')[0]}/sa/${name.split('/')[1]}`;
const callerFor = (name: string, identity = identityOf(name)) =>
  ({ peer: { spiffeId: identity, source: 'mtls' }, subject: name, scopes: [], actors: [] }) as unknown as Principal;
const admin = { peer: {}, subject: 'agentmesh/admin', scopes: ['registry.admin'], actors: [] } as unknown as Principal;
const card = (name: string, identity = identityOf(name)) =>
  AgentCard.fromPartial({ name, version: '1.0.0', purpose: 'group commit', owner: 'test', identity });
const endpoint = (instanceId: string) => ({ address: '127.0.0.1:7000', adminAddress: '', instanceId, mcpUrl: '' });

describe('registry writes committed together', () => {
  let dataDir: string;
  let store: Store;
  let registry: Registry;
  const open = async () => {
    store = await openStore({
      service: 'agentmesh/registry',
      config: loadStateConfig({ AGENTMESH_DATA_DIR: dataDir }),
    });
    registry = new Registry(store, createLogger({ service: 'test', level: 'silent' }));
    await registry.start(60_000);
  };
  const close = async () => {
    registry.stop();
    await store.close();
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'registry-group-'));
    await open();
  });
  afterAll(async () => {
    await close();
    cleanupDir(dataDir);
  });

  test('concurrent registrations each get their own answer; failures change nothing; a restart finds every OK', async () => {
    // Set up conflicts: a name owned by one identity, and a retired entry.
    const owned = await registry.register('agent', card('team/owned'), endpoint('o1'), 30_000, callerFor('team/owned'));
    await registry.register('agent', card('team/retired'), endpoint('r1'), 30_000, callerFor('team/retired'));
    await registry.setLifecycle('team/retired', '1.0.0', 'RETIRED', 'gone', admin);
    const before = registry.revision;

    const valid = Array.from({ length: 40 }, (_, i) => `burst/agent-${i}`);
    const attempts: [string, Promise<unknown>][] = valid.map((name) => [
      name,
      registry.register('agent', card(name), endpoint('i1'), 30_000, callerFor(name)),
    ]);
    // Among them, writes that fail inside the transaction, each for its own reason.
    const other = 'spiffe://agentmesh.local/ns/team/sa/impostor';
    attempts.splice(10, 0, [
      'conflict',
      registry.register('agent', card('team/owned', other), endpoint('x1'), 30_000, callerFor('team/owned', other)),
    ]);
    attempts.splice(20, 0, [
      'retired',
      registry.register('agent', card('team/retired'), endpoint('r2'), 30_000, callerFor('team/retired')),
    ]);
    attempts.splice(30, 0, ['heartbeat', registry.heartbeat(owned.leaseId, callerFor('team/owned'))]);
    attempts.splice(31, 0, ['lost heartbeat', registry.heartbeat('no-such-lease', callerFor('team/owned'))]);
    const settled = new Map(
      await Promise.all(
        attempts.map(
          async ([what, p]) =>
            [
              what,
              await p.then(
                (v) => ({ v }),
                (e) => ({ e }),
              ),
            ] as const,
        ),
      ),
    );

    expect(settled.get('conflict')).toMatchObject({
      e: { code: Code.PERMISSION_DENIED, message: expect.stringContaining('team/owned belongs to another identity') },
    });
    expect(settled.get('retired')).toMatchObject({
      e: { code: Code.FAILED_PRECONDITION, message: expect.stringContaining('team/retired@1.0.0 is retired') },
    });
    expect(settled.get('lost heartbeat')).toMatchObject({ e: { code: Code.NOT_FOUND } });
    expect((settled.get('heartbeat') as { v: Date }).v).toBeInstanceOf(Date);
    const revisions = valid.map((name) => {
      const answer = settled.get(name) as { v?: { revision: number; leaseId: string }; e?: unknown };
      expect(answer.e).toBeUndefined();
      return answer.v!.revision;
    });
    // One logged change each, gap-free after what was there, in one order (no failed write took a revision).
    expect([...revisions].sort((a, b) => a - b)).toEqual(valid.map((_, i) => before + i + 1));
    // Answered only once memory reflects the write: discoverable at once.
    for (const name of valid)
      expect(
        registry.discover(
          { visibility: { names: [name], namespaces: [], patterns: [] }, characteristics: undefined },
          1,
          admin,
        ),
      ).toHaveLength(1);
    expect(registry.versions('agent', 'team/owned', admin)[0]!.record.identity).toBe(identityOf('team/owned'));

    const leases = new Map(valid.map((name) => [name, (settled.get(name) as { v: { leaseId: string } }).v.leaseId]));
    await close();
    await open();
    // Exactly what was answered OK: every valid entry with its lease, nothing of the failed ones.
    expect(registry.revision).toBe(before + valid.length);
    for (const name of valid) {
      const [entry] = registry.versions('agent', name, admin);
      expect([...entry!.leases.keys()]).toEqual([leases.get(name)]);
    }
    const [retired] = registry.versions('agent', 'team/retired', admin);
    expect(retired!.record.lifecycle).toBe('RETIRED');
    expect([...retired!.leases.values()].map((l) => l.instanceId)).not.toContain('r2');
    const [ownedEntry] = registry.versions('agent', 'team/owned', admin);
    expect(ownedEntry!.record.identity).toBe(identityOf('team/owned'));
    expect([...ownedEntry!.leases.keys()]).toEqual([owned.leaseId]);
    const log = await registry.records.changesAfter(before, 1_000);
    expect(log.map((c) => c.revision)).toEqual(valid.map((_, i) => before + i + 1));
  });

  test('leases of different TTLs in one batch each expire after their own TTL (one compiled insert per TTL)', async () => {
    const ttls = [10_000, 120_000, 10_000, 45_000];
    const from = Date.now();
    const leases = await Promise.all(
      ttls.map((ttl, i) =>
        registry.register('agent', card(`ttl/agent-${i}`), endpoint('t1'), ttl, callerFor(`ttl/agent-${i}`)),
      ),
    );
    const to = Date.now();
    leases.forEach((lease, i) => {
      expect(lease.ttlMs).toBe(ttls[i]);
      expect(lease.expiresAt.getTime()).toBeGreaterThanOrEqual(from + ttls[i]! - 1);
      expect(lease.expiresAt.getTime()).toBeLessThanOrEqual(to + ttls[i]! + 1);
    });
  });
});
