import { ChangeType, type WatchResponse } from '../gen/agentmesh/v1/registry_service.js';
import { Lifecycle } from '../gen/agentmesh/v1/card.js';
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

const READ = ['registry.read'];
const RW = ['registry.register', 'registry.read'];

describe('registry over mTLS with tokens', () => {
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

  test('register, discover, heartbeat, deregister', async () => {
    const agent = await registryClientAs(fx, reg.address, 'lending/credit-risk', RW);
    const reader = await registryClientAs(fx, reg.address, 'lending/orchestrator', READ);
    const lease = await agent.registerAgent({
      card: agentCard('lending/credit-risk'),
      endpoint: endpoint('i1'),
      leaseTtl: { seconds: 10, nanos: 0 },
    });
    expect(lease.leaseTtl).toEqual({ seconds: 10, nanos: 0 });
    const found = await reader.discover({
      scope: {
        visibility: { names: ['lending/credit-risk'], namespaces: [], patterns: [] },
        characteristics: undefined,
      },
      maxResults: 0,
    });
    expect(found.matches).toHaveLength(1);
    const card = found.matches[0]!.entry!.card;
    expect(card?.$case === 'agent' && card.agent.endpoints.map((e) => e.address)).toEqual(['127.0.0.1:7000']);
    expect(found.matches[0]!.reasons[0]).toBe('named exactly lending/credit-risk');
    const renewed = await agent.heartbeat({ leaseId: lease.leaseId });
    expect(renewed.expiresAt!.getTime()).toBeGreaterThanOrEqual(lease.expiresAt!.getTime());
    await agent.deregister({ leaseId: lease.leaseId });
    expect(
      (
        await reader.discover({
          scope: {
            visibility: { names: ['lending/credit-risk'], namespaces: [], patterns: [] },
            characteristics: undefined,
          },
          maxResults: 5,
        })
      ).matches,
    ).toEqual([]);
    // History stays: the card is still known.
    expect((await reader.getAgent({ name: 'lending/credit-risk', version: '' })).card?.name).toBe(
      'lending/credit-risk',
    );
    await expect(agent.heartbeat({ leaseId: lease.leaseId })).rejects.toMatchObject({ code: Code.NOT_FOUND });
    agent.close();
    reader.close();
  });

  test('a lapsed lease leaves discovery', async () => {
    const agent = await registryClientAs(fx, reg.address, 'payments/ledger', RW);
    const lease = await agent.registerAgent({
      card: agentCard('payments/ledger'),
      endpoint: endpoint('p1'),
      leaseTtl: { seconds: 2, nanos: 0 },
    });
    const scope = { visibility: { namespaces: ['payments'], names: [], patterns: [] }, characteristics: undefined };
    expect((await agent.discover({ scope, maxResults: 5 })).matches).toHaveLength(1);
    // Polled until the sweeper has ended the lease (jest's timeout is the bound, not a clock here).
    let remaining = 1;
    while (remaining > 0) {
      await new Promise((r) => setTimeout(r, 100));
      remaining = (await agent.discover({ scope, maxResults: 5 })).matches.length;
    }
    expect(remaining).toBe(0);
    expect(Date.now()).toBeGreaterThanOrEqual(lease.expiresAt!.getTime());
    agent.close();
  });

  test('strict names, namespaces, patterns, characteristics, ranking and version constraints', async () => {
    const risk = await registryClientAs(fx, reg.address, 'lending/credit-risk', RW);
    const orch = await registryClientAs(fx, reg.address, 'lending/orchestrator', RW);
    await risk.registerAgent({
      card: agentCard('lending/credit-risk', {
        version: '2.1.0',
        purpose: 'Assess credit risk of retail loan applicants',
        policies: [{ id: 'gdpr', description: '', authority: 'EU' }],
        skills: [{ id: 'assess-credit-risk', name: 'Assess', description: 'score applicants', tags: ['credit'] }],
      }),
      endpoint: endpoint('r2', 7002),
      leaseTtl: undefined,
    });
    await orch.registerAgent({
      card: agentCard('lending/orchestrator', {
        purpose: 'Orchestrate loan pre-qualification, including credit risk checks',
      }),
      endpoint: endpoint('o1', 7003),
      leaseTtl: undefined,
    });
    const d = (scope: object, maxResults = 5) => orch.discover({ scope: scope as never, maxResults });
    const names = async (scope: object) =>
      (await d(scope)).matches.map((m) => (m.entry!.card as { agent: { name: string } }).agent.name);

    expect(await names({ visibility: { namespaces: ['lending'], names: [], patterns: [] } })).toEqual(
      expect.arrayContaining(['lending/credit-risk', 'lending/orchestrator']),
    );
    expect(
      await names({
        visibility: { namespaces: [], names: [], patterns: [{ pattern: { $case: 'glob', glob: '*/credit-*' } }] },
      }),
    ).toEqual(['lending/credit-risk']);
    expect(
      await names({
        characteristics: {
          text: 'credit risk',
          skillIds: [],
          tags: [],
          policies: [],
          labels: {},
          versionConstraint: '',
          kinds: [],
        },
      }),
    ).toEqual(['lending/credit-risk', 'lending/orchestrator']);
    expect(
      await names({
        characteristics: {
          text: '',
          skillIds: [],
          tags: [],
          policies: ['gdpr'],
          labels: {},
          versionConstraint: '^2.0.0',
          kinds: [],
        },
      }),
    ).toEqual(['lending/credit-risk']);
    expect(
      await names({
        characteristics: {
          text: '',
          skillIds: [],
          tags: [],
          policies: [],
          labels: {},
          versionConstraint: '^3.0.0',
          kinds: [],
        },
      }),
    ).toEqual([]);
    const best = await d(
      {
        characteristics: {
          text: 'credit risk',
          skillIds: ['assess-credit-risk'],
          tags: [],
          policies: [],
          labels: {},
          versionConstraint: '',
          kinds: [],
        },
      },
      0,
    );
    expect(best.matches).toHaveLength(1);
    expect(best.matches[0]!.reasons).toEqual(expect.arrayContaining(['offers skill assess-credit-risk']));
    risk.close();
    orch.close();
  });

  test('ownership: another identity cannot overwrite or deregister a card', async () => {
    const risk = await registryClientAs(fx, reg.address, 'lending/credit-risk', RW);
    const other = await registryClientAs(fx, reg.address, 'payments/ledger', RW);
    const lease = await risk.registerAgent({
      card: agentCard('lending/credit-risk', { version: '3.0.0' }),
      endpoint: endpoint('own', 7010),
      leaseTtl: undefined,
    });
    await expect(
      other.registerAgent({
        card: agentCard('lending/credit-risk', { version: '3.0.0', purpose: 'hijacked' }),
        endpoint: endpoint('x'),
        leaseTtl: undefined,
      }),
    ).rejects.toMatchObject({ code: Code.PERMISSION_DENIED });
    await expect(other.deregister({ leaseId: lease.leaseId })).rejects.toMatchObject({ code: Code.PERMISSION_DENIED });
    await expect(other.heartbeat({ leaseId: lease.leaseId })).rejects.toMatchObject({ code: Code.PERMISSION_DENIED });
    expect((await risk.getAgent({ name: 'lending/credit-risk', version: '3.0.0' })).card?.purpose).toBe(
      'The credit-risk agent',
    );
    risk.close();
    other.close();
  });

  test('suspended agents disappear from discovery; only admins change lifecycles', async () => {
    const risk = await registryClientAs(fx, reg.address, 'lending/credit-risk', RW);
    const admin = await registryClientAs(fx, reg.address, 'agentmesh/admin', ['registry.read', 'registry.admin']);
    await risk.registerAgent({
      card: agentCard('lending/credit-risk', { version: '4.0.0' }),
      endpoint: endpoint('s', 7020),
      leaseTtl: undefined,
    });
    const scope = {
      visibility: { names: ['lending/credit-risk'], namespaces: [], patterns: [] },
      characteristics: {
        text: '',
        skillIds: [],
        tags: [],
        policies: [],
        labels: {},
        versionConstraint: '4.0.0',
        kinds: [],
      },
    };
    expect((await risk.discover({ scope, maxResults: 1 })).matches).toHaveLength(1);
    await expect(
      risk.setLifecycle({
        name: 'lending/credit-risk',
        version: '4.0.0',
        lifecycle: Lifecycle.LIFECYCLE_SUSPENDED,
        reason: 'x',
      }),
    ).rejects.toMatchObject({ code: Code.PERMISSION_DENIED });
    const { entry } = await admin.setLifecycle({
      name: 'lending/credit-risk',
      version: '4.0.0',
      lifecycle: Lifecycle.LIFECYCLE_SUSPENDED,
      reason: 'incident 42',
    });
    expect(entry?.card?.$case === 'agent' && entry.card.agent.lifecycle).toBe(Lifecycle.LIFECYCLE_SUSPENDED);
    expect((await risk.discover({ scope, maxResults: 1 })).matches).toHaveLength(0);
    expect((await admin.getAgent({ name: 'lending/credit-risk', version: '4.0.0' })).card?.lifecycle).toBe(
      Lifecycle.LIFECYCLE_SUSPENDED,
    );
    await admin.setLifecycle({
      name: 'lending/credit-risk',
      version: '4.0.0',
      lifecycle: Lifecycle.LIFECYCLE_ACTIVE,
      reason: 'resolved',
    });
    expect((await risk.discover({ scope, maxResults: 1 })).matches).toHaveLength(1);
    risk.close();
    admin.close();
  });

  test('Watch delivers changes in order and resumes from a revision', async () => {
    const watcher = await registryClientAs(fx, reg.address, 'lending/orchestrator', READ);
    const ledger = await registryClientAs(fx, reg.address, 'payments/ledger', RW);
    const controller = new AbortController();
    const seen: WatchResponse[] = [];
    // Resume from the revision before our changes: nothing is lost however late the stream starts.
    const from = reg.registry.revision;
    expect(from).toBeGreaterThan(0);
    const done = (async () => {
      try {
        for await (const change of watcher.watch(
          { fromRevision: from, kinds: [], progressInterval: undefined },
          { signal: controller.signal, deadlineMs: Infinity },
        ))
          seen.push(change);
      } catch {
        // cancelled at the end of the test
      }
    })();
    await ledger.registerAgent({
      card: agentCard('payments/ledger', { version: '9.0.0' }),
      endpoint: endpoint('w', 7030),
      leaseTtl: undefined,
    });
    await ledger.registerAgent({
      card: agentCard('payments/ledger', { version: '9.0.0', purpose: 'Ledger v9, updated' }),
      endpoint: endpoint('w', 7030),
      leaseTtl: undefined,
    });
    await ledger.deregister({
      leaseId: (
        await ledger.registerAgent({
          card: agentCard('payments/ledger', { version: '9.0.0' }),
          endpoint: endpoint('w', 7030),
          leaseTtl: undefined,
        })
      ).leaseId,
    });
    const ours = (c: WatchResponse) => c.entry?.card?.$case === 'agent' && c.entry.card.agent.version === '9.0.0';
    // Streamed asynchronously: polled until the last of ours has arrived (jest's timeout is the bound).
    while (!seen.some((c) => ours(c) && c.change === ChangeType.CHANGE_TYPE_REMOVED))
      await new Promise((r) => setTimeout(r, 50));
    controller.abort();
    await done;
    const mine = seen.filter(ours);
    expect(mine.map((c) => c.change)).toEqual([
      ChangeType.CHANGE_TYPE_ADDED,
      ChangeType.CHANGE_TYPE_UPDATED,
      ChangeType.CHANGE_TYPE_UPDATED,
      ChangeType.CHANGE_TYPE_REMOVED,
    ]);
    const revisions = seen.map((c) => c.revision);
    expect([...revisions].sort((a, b) => a - b)).toEqual(revisions);
    // Resume from the first of those revisions: the rest replays from the store.
    const replay: WatchResponse[] = [];
    const resume = new AbortController();
    const replaying = (async () => {
      try {
        for await (const c of watcher.watch(
          { fromRevision: mine[0]!.revision, kinds: [], progressInterval: undefined },
          { signal: resume.signal, deadlineMs: Infinity },
        ))
          replay.push(c);
      } catch {
        // cancelled
      }
    })();
    const wanted = revisions.filter((r) => r > mine[0]!.revision).length;
    while (replay.length < wanted) await new Promise((r) => setTimeout(r, 50));
    resume.abort();
    await replaying;
    expect(replay.map((c) => c.revision)).toEqual(revisions.filter((r) => r > mine[0]!.revision));
    watcher.close();
    ledger.close();
  });

  test('a schema with $id registers again; ending one of two instances is an UPDATED change without its endpoint', async () => {
    const risk = await registryClientAs(fx, reg.address, 'lending/credit-risk', RW);
    const card = agentCard('lending/credit-risk', {
      version: '7.0.0',
      skills: [
        {
          id: 's',
          name: 's',
          description: 'd',
          tags: [],
          inputSchema: { $id: 'urn:agentmesh:test:input', type: 'object' },
        },
      ],
    });
    const one = await risk.registerAgent({ card, endpoint: endpoint('one', 7201), leaseTtl: undefined });
    await risk.registerAgent({ card, endpoint: endpoint('two', 7202), leaseTtl: undefined });
    const from = reg.registry.revision;
    await risk.deregister({ leaseId: one.leaseId });
    const [change] = await reg.registry.records.changesAfter(from);
    expect(change?.change).toBe('UPDATED');
    const entry = change?.entry as { card: { agent: { endpoints: { address: string }[] } } };
    expect(entry.card.agent.endpoints.map((e) => e.address)).toEqual(['127.0.0.1:7202']);
    risk.close();
  });

  test.each([
    ['malformed name', { name: 'Lending/Credit Risk' }, 'card.name'],
    ['bad semver', { version: 'v1' }, 'card.version'],
    [
      'invalid JSON Schema',
      { skills: [{ id: 's', name: 's', description: 'd', tags: [], inputSchema: { type: 12 } }] },
      'card.skills[0].input_schema',
    ],
  ])('bad input: %s is INVALID_ARGUMENT and changes nothing', async (_n, over, field) => {
    const risk = await registryClientAs(fx, reg.address, 'lending/credit-risk', RW);
    const before = reg.registry.revision;
    await expect(
      risk.registerAgent({
        card: agentCard('lending/credit-risk', over as never),
        endpoint: endpoint('bad'),
        leaseTtl: undefined,
      }),
    ).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: expect.stringContaining(field),
    });
    expect(reg.registry.revision).toBe(before);
    risk.close();
  });

  test('a catastrophic regex against long names is answered promptly; over-long patterns are refused', async () => {
    const orch = await registryClientAs(fx, reg.address, 'lending/orchestrator', READ);
    const regex = (r: string) => ({
      visibility: { namespaces: [], names: [], patterns: [{ pattern: { $case: 'regex', regex: r } }] },
    });
    // Answered within the client's usual deadline (a backtracking matcher would not finish; RE2's
    // linear time is name-pattern.test.ts's): no tighter one, which a loaded machine could exceed.
    const answer = await orch.discover({ scope: regex('(a+)+$') as never, maxResults: 5 });
    expect(answer.matches).toEqual([]);
    await expect(orch.discover({ scope: regex('a'.repeat(300)) as never, maxResults: 5 })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
    });
    await expect(orch.discover({ scope: regex('(a)\\1') as never, maxResults: 5 })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
    });
    orch.close();
  });
});

describe('registry durability', () => {
  test('a restarted registry keeps its registrations', async () => {
    const fx = await createSecureFixture(REGISTRY_CLIENTS);
    const first = await startRegistry(fx);
    const risk = await registryClientAs(fx, first.address, 'lending/credit-risk', RW);
    const lease = await risk.registerAgent({
      card: agentCard('lending/credit-risk', { version: '5.0.0' }),
      endpoint: endpoint('d', 7040),
      leaseTtl: { seconds: 120, nanos: 0 },
    });
    risk.close();
    await first.stop();
    const second = await startRegistry(fx, first.dataDir);
    const reader = await registryClientAs(fx, second.address, 'lending/orchestrator', READ);
    const found = await reader.discover({
      scope: {
        visibility: { names: ['lending/credit-risk'], namespaces: [], patterns: [] },
        characteristics: undefined,
      },
      maxResults: 1,
    });
    expect(found.matches).toHaveLength(1);
    // The lease keeps the TTL it was granted (120 s, not the 30 s default) across the restart.
    const again = await registryClientAs(fx, second.address, 'lending/credit-risk', RW);
    const renewed = await again.heartbeat({ leaseId: lease.leaseId });
    expect(renewed.expiresAt!.getTime() - Date.now()).toBeGreaterThan(100_000);
    // A revision the registry never reached is refused rather than silently skipping changes.
    const watching = (async () => {
      for await (const c of reader.watch(
        { fromRevision: second.registry.revision + 1_000, kinds: [], progressInterval: undefined },
        { deadlineMs: 60_000 }, // a bound for a stream that would stay open, not a speed expectation
      ))
        void c;
    })();
    await expect(watching).rejects.toMatchObject({ code: Code.OUT_OF_RANGE });
    again.close();
    reader.close();
    await second.stop();
    cleanupDir(first.dataDir);
    await fx.close();
  });
});
