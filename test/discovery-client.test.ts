import { DiscoveryScope } from '../gen/agentmesh/v1/card.js';
import { DiscoveryClient, endpointsOf, Registration } from '../mesh/index.js';
import { MeshMetrics } from '../mesh/index.js';
import { captureLogger } from './helpers/log-capture.js';
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

/** Polls until the condition holds: the watch delivers asynchronously (jest's timeout is the bound). */
async function eventually(condition: () => Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((r) => setTimeout(r, 50));
}
const scope = DiscoveryScope.fromPartial({ characteristics: { skillIds: ['assess-credit-risk'] } });
const skill = { skills: [{ id: 'assess-credit-risk', name: 'Assess', description: 'credit', tags: [] }] };

describe('self-registration', () => {
  test('renews its lease before it lapses, and ends it on stop', async () => {
    const fx = await createSecureFixture(REGISTRY_CLIENTS);
    const reg = await startRegistry(fx);
    const registry = await registryClientAs(fx, reg.address, 'lending/credit-risk', RW);
    const registration = new Registration(
      registry,
      { kind: 'agent', card: agentCard('lending/credit-risk', { version: '8.0.0' }) },
      endpoint('self', 7300),
      // Renewed every third of it: 3 s leaves 2 s for a renewal to come on a loaded machine.
      3_000,
      captureLogger().log,
    );
    const scope = DiscoveryScope.fromPartial({
      visibility: { names: ['lending/credit-risk'] },
      characteristics: { versionConstraint: '8.0.0' },
    });
    try {
      registration.start();
      await registration.registered;
      // Three lease lengths later the entry is still there: only heartbeats can have kept it.
      await new Promise((r) => setTimeout(r, 9_000));
      expect((await registry.discover({ scope, maxResults: 1 })).matches).toHaveLength(1);
      await registration.stop();
      expect((await registry.discover({ scope, maxResults: 1 })).matches).toHaveLength(0);
    } finally {
      registry.close();
      await reg.stop();
      cleanupDir(reg.dataDir);
      await fx.close();
    }
  }, 60_000); // a fixture, a registry, and three 3 s leases
});

describe('discovery client', () => {
  let fx: SecureFixture;
  let reg: RegistryUnderTest;

  beforeAll(async () => {
    fx = await createSecureFixture(REGISTRY_CLIENTS);
    reg = await startRegistry(fx);
  });
  afterAll(async () => {
    await reg.stop().catch(() => undefined);
    cleanupDir(reg.dataDir);
    await fx.close();
  });

  test('caches answers, refreshes them when the registry changes, rotates over instances, and serves the cache while the registry is down', async () => {
    const risk = await registryClientAs(fx, reg.address, 'lending/credit-risk', RW);
    const reader = await registryClientAs(fx, reg.address, 'lending/orchestrator', ['registry.read']);
    const logs = captureLogger('orchestrator');
    const metrics = new MeshMetrics('lending/orchestrator');
    const discovery = new DiscoveryClient(reader, logs.log, metrics);
    discovery.startWatch();
    try {
      await risk.registerAgent({
        card: agentCard('lending/credit-risk', { version: '1.0.0', ...skill }),
        endpoint: endpoint('a', 7101),
        leaseTtl: undefined,
      });
      const first = await discovery.resolve(scope);
      expect(endpointsOf(first[0]!).map((e) => e.address)).toEqual(['127.0.0.1:7101']);

      // A second instance of the same version: the watch invalidates the cache and picks rotate.
      await risk.registerAgent({
        card: agentCard('lending/credit-risk', { version: '1.0.0', ...skill }),
        endpoint: endpoint('b', 7102),
        leaseTtl: undefined,
      });
      await eventually(async () => endpointsOf((await discovery.resolve(scope))[0]!).length === 2);
      const picks = [await discovery.pick(scope), await discovery.pick(scope), await discovery.pick(scope)].map(
        (p) => p.address,
      );
      expect(new Set(picks)).toEqual(new Set(['127.0.0.1:7101', '127.0.0.1:7102']));
      expect(picks[0]).not.toBe(picks[1]);

      // A higher version registers: discovery follows without waiting for any TTL.
      await risk.registerAgent({
        card: agentCard('lending/credit-risk', { version: '2.0.0', ...skill }),
        endpoint: endpoint('c', 7103),
        leaseTtl: undefined,
      });
      await eventually(async () => {
        const [best] = await discovery.resolve(scope);
        return best?.entry?.card?.$case === 'agent' && best.entry.card.agent.version === '2.0.0';
      });
      const after = await discovery.resolve(scope);
      expect(after[0]!.entry!.card?.$case === 'agent' && after[0]!.entry!.card.agent.version).toBe('2.0.0');

      await reg.stop();
      const cached = await discovery.resolve(scope);
      expect(cached[0]!.entry!.card?.$case === 'agent' && cached[0]!.entry!.card.agent.version).toBe('2.0.0');
      expect(await metrics.text()).toMatch(/agentmesh_discovery_stale\{[^}]*\} 1/);
      expect(logs.text()).toContain('registry unreachable: answering discovery from the cache');
    } finally {
      discovery.close();
      risk.close();
      reader.close();
    }
  });
});

describe('discovery cache', () => {
  let fx: SecureFixture;
  let reg: RegistryUnderTest;

  beforeAll(async () => {
    fx = await createSecureFixture(REGISTRY_CLIENTS);
    reg = await startRegistry(fx);
  });
  afterAll(async () => {
    await reg.stop().catch(() => undefined);
    cleanupDir(reg.dataDir);
    await fx.close();
  });

  test('answers a repeated question from the cache on a quiet registry, and asks again after a change', async () => {
    const risk = await registryClientAs(fx, reg.address, 'lending/credit-risk', RW);
    const reader = await registryClientAs(fx, reg.address, 'lending/orchestrator', ['registry.read']);
    let asked = 0;
    // The cache answers once the Watch has said it is live: resolved when the client has taken its first response.
    let heard: () => void = () => undefined;
    const live = new Promise<void>((r) => (heard = r));
    const counted = Object.assign(Object.create(reader) as typeof reader, {
      discover: (...args: Parameters<typeof reader.discover>) => {
        asked++;
        return reader.discover(...args);
      },
      watch: async function* (...args: Parameters<typeof reader.watch>) {
        for await (const response of reader.watch(...args)) {
          yield response;
          heard();
        }
      },
    });
    const discovery = new DiscoveryClient(counted, captureLogger('orchestrator').log);
    discovery.startWatch();
    const names = DiscoveryScope.fromPartial({ visibility: { names: ['lending/credit-risk'] } });
    try {
      await risk.registerAgent({
        card: agentCard('lending/credit-risk', { version: '1.0.0', ...skill }),
        endpoint: endpoint('a', 7201),
        leaseTtl: undefined,
      });
      expect(await discovery.resolve(names)).toHaveLength(1);
      await live;
      const before = asked;
      for (let i = 0; i < 5; i++) expect(await discovery.resolve(names)).toHaveLength(1);
      expect(asked).toBe(before);

      // A change of the card (a new version) reaches the cache through the Watch: the next answer has it.
      await risk.registerAgent({
        card: agentCard('lending/credit-risk', { version: '1.1.0', ...skill }),
        endpoint: endpoint('b', 7202),
        leaseTtl: undefined,
      });
      await eventually(async () => {
        const [best] = await discovery.resolve(names);
        return best?.entry?.card?.$case === 'agent' && best.entry.card.agent.version === '1.1.0';
      });
      expect(asked).toBeGreaterThan(before);
    } finally {
      discovery.close();
      risk.close();
      reader.close();
    }
  });
});
