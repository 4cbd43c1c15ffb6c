// External A2A agents in the registry: an administrator registers one from its A2A card; it has
// no lease, stays discoverable (its GRPC interface as its one endpoint) across registry restarts
// until retired, and a mesh workload cannot pass itself off as one.
import { AgentCard as A2aCardJson, type AgentCard as A2aCard } from '@a2a-js/sdk';
import { AgentCard, Lifecycle } from '../gen/agentmesh/v1/card.js';
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

const ADMIN = ['registry.read', 'registry.admin'];
const RW = ['registry.register', 'registry.read'];

/** An A2A 1.0 card as a third-party framework serves it. */
function a2aCard(over: Partial<A2aCard> = {}): Record<string, unknown> {
  return A2aCardJson.toJSON({
    name: 'Weather Agent',
    description: 'Answers weather questions. Backed by a forecast service.',
    supportedInterfaces: [
      { url: 'https://weather.example:443/a2a', protocolBinding: 'JSONRPC', tenant: '', protocolVersion: '1.0' },
      { url: 'weather.example:50051', protocolBinding: 'GRPC', tenant: '', protocolVersion: '1.0' },
    ],
    provider: undefined,
    version: '2.3.0',
    capabilities: { streaming: true, pushNotifications: false, extensions: [], extendedAgentCard: false },
    securitySchemes: {},
    securityRequirements: [],
    defaultInputModes: ['text/plain'],
    defaultOutputModes: ['text/plain'],
    skills: [
      {
        id: 'forecast',
        name: 'Forecast',
        description: 'the forecast for a place',
        tags: ['weather'],
        examples: ['Will it rain in Lyon tomorrow?'],
        inputModes: [],
        outputModes: [],
        securityRequirements: [],
      },
    ],
    signatures: [],
    ...over,
  }) as Record<string, unknown>;
}

/** The agentmesh card of an external agent, as `agentmesh register a2a` derives it. */
function externalCard(over: Partial<Parameters<typeof AgentCard.fromPartial>[0]> = {}, a2a = a2aCard()): AgentCard {
  return AgentCard.fromPartial({
    name: 'partners/weather',
    version: '2.3.0',
    purpose: 'Answers weather questions.',
    description: 'Answers weather questions. Backed by a forecast service.',
    owner: 'partner-team',
    skills: [{ id: 'forecast', name: 'Forecast', description: 'the forecast for a place', tags: ['weather'] }],
    a2a: { card: a2a, cardUrl: 'https://weather.example/.well-known/agent-card.json', external: true, caPem: '' },
    ...over,
  });
}

const byName = (name: string) => ({
  scope: { visibility: { names: [name], namespaces: [], patterns: [] }, characteristics: undefined },
  maxResults: 5,
});

describe('external A2A agents in the registry', () => {
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

  test('an administrator registers one: discoverable with its A2A card, across a restart, until retired', async () => {
    let admin = await registryClientAs(fx, reg.address, 'agentmesh/admin', ADMIN);
    const { revision } = await admin.registerExternalAgent({ card: externalCard() });
    expect(revision).toBeGreaterThan(0);
    // The same card again changes nothing (the method is retried by the mesh as an upsert).
    expect((await admin.registerExternalAgent({ card: externalCard() })).revision).toBe(revision);

    const reader = await registryClientAs(fx, reg.address, 'lending/orchestrator', ['registry.read']);
    const check = async (client: typeof reader) => {
      const found = await client.discover(byName('partners/weather'));
      expect(found.matches).toHaveLength(1);
      const card = found.matches[0]!.entry!.card;
      const agent = card?.$case === 'agent' ? card.agent : undefined;
      expect(agent?.endpoints).toEqual([
        { address: 'weather.example:50051', adminAddress: '', instanceId: 'external', mcpUrl: '' },
      ]);
      expect(agent?.a2a).toEqual(externalCard().a2a);
      expect(agent?.identity).toBe('');
      const got = await client.getAgent({ name: 'partners/weather', version: '' });
      expect(got.card?.a2a?.external).toBe(true);
      expect(A2aCardJson.fromJSON(got.card!.a2a!.card!).supportedInterfaces[1]!.url).toBe('weather.example:50051');
      const listed = await client.listAgents({
        namespace: 'partners',
        pageSize: 0,
        pageToken: '',
        includeInactive: false,
      });
      expect(listed.agents.map((a) => [a.name, a.a2a?.external])).toEqual([['partners/weather', true]]);
    };
    await check(reader);

    // A registry restart (same store): the entry is still there, and still discoverable (no lease to lapse).
    reader.close();
    admin.close();
    const dataDir = reg.dataDir;
    await reg.stop();
    reg = await startRegistry(fx, dataDir);
    const again = await registryClientAs(fx, reg.address, 'lending/orchestrator', ['registry.read']);
    await check(again);

    admin = await registryClientAs(fx, reg.address, 'agentmesh/admin', ADMIN);
    await admin.setLifecycle({
      name: 'partners/weather',
      version: '',
      lifecycle: Lifecycle.LIFECYCLE_RETIRED,
      reason: 'contract ended',
    });
    expect((await again.discover(byName('partners/weather'))).matches).toEqual([]);
    await expect(admin.registerExternalAgent({ card: externalCard() })).rejects.toMatchObject({
      code: Code.FAILED_PRECONDITION,
    });
    again.close();
    admin.close();
  });

  test('Watch reports it like any agent', async () => {
    const admin = await registryClientAs(fx, reg.address, 'agentmesh/admin', ADMIN);
    const watcher = await registryClientAs(fx, reg.address, 'lending/orchestrator', ['registry.read']);
    const controller = new AbortController();
    const stream = watcher.watch(
      { fromRevision: 0, kinds: [], progressInterval: undefined },
      { signal: controller.signal },
    );
    const first = stream[Symbol.asyncIterator]().next();
    // Watch from 0 starts at "now": register until the watcher has seen the change.
    const card = externalCard({ name: 'partners/maps', version: '1.0.0' });
    await admin.registerExternalAgent({ card });
    const { value } = await first;
    expect(value.entry.card.agent.name).toBe('partners/maps');
    expect(value.entry.card.agent.endpoints[0].instanceId).toBe('external');
    controller.abort();
    admin.close();
    watcher.close();
  });

  test('only administrators register external agents', async () => {
    const workload = await registryClientAs(fx, reg.address, 'lending/credit-risk', RW);
    await expect(workload.registerExternalAgent({ card: externalCard({ name: 'partners/x' }) })).rejects.toMatchObject({
      code: Code.PERMISSION_DENIED,
    });
    workload.close();
  });

  test.each([
    ['card.identity', externalCard({ identity: 'spiffe://agentmesh.local/ns/partners/sa/weather' })],
    ['card.name', externalCard({ name: 'weather' })],
    ['card.owner', externalCard({ owner: '' })],
    ['card.a2a:', externalCard({ a2a: undefined })],
    ['card.a2a.external', { ...externalCard(), a2a: { ...externalCard().a2a!, external: false } }],
    ['card.a2a.card:', { ...externalCard(), a2a: { ...externalCard().a2a!, card: undefined } }],
    ['card.a2a.card.name', externalCard({}, a2aCard({ name: '' }))],
    [
      'card.a2a.card.supportedInterfaces: no GRPC interface',
      externalCard(
        {},
        a2aCard({
          supportedInterfaces: [
            { url: 'https://w.example/a2a', protocolBinding: 'JSONRPC', tenant: '', protocolVersion: '1.0' },
          ],
        }),
      ),
    ],
    [
      'protocolVersion 1.0',
      externalCard(
        {},
        a2aCard({
          supportedInterfaces: [
            { url: 'w.example:50051', protocolBinding: 'GRPC', tenant: '', protocolVersion: '0.3' },
          ],
        }),
      ),
    ],
    [
      'must be host:port',
      externalCard(
        {},
        a2aCard({
          supportedInterfaces: [
            { url: 'https://w.example/a2a', protocolBinding: 'GRPC', tenant: '', protocolVersion: '1.0' },
          ],
        }),
      ),
    ],
    [
      // The registry shows one address; a second GRPC 1.0 interface would be the one an SDK client dials.
      'card.a2a.card.supportedInterfaces: 2 GRPC interfaces with protocolVersion 1.0',
      externalCard(
        {},
        a2aCard({
          supportedInterfaces: [
            { url: 'weather.example:50051', protocolBinding: 'GRPC', tenant: '', protocolVersion: '1.0' },
            { url: 'attacker.example:50051', protocolBinding: 'GRPC', tenant: '', protocolVersion: '1.0' },
          ],
        }),
      ),
    ],
    ['card.a2a.ca_pem', { ...externalCard(), a2a: { ...externalCard().a2a!, caPem: 'not a certificate' } }],
  ])('refuses a bad card: %s', async (field, card) => {
    const admin = await registryClientAs(fx, reg.address, 'agentmesh/admin', ADMIN);
    const err = await admin.registerExternalAgent({ card: card as AgentCard }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: Code.INVALID_ARGUMENT });
    expect((err as Error).message).toContain(field);
    admin.close();
  });

  test('a mesh workload cannot register as external, nor take an external name; its own A2A card is kept as sent', async () => {
    const admin = await registryClientAs(fx, reg.address, 'agentmesh/admin', ADMIN);
    const risk = await registryClientAs(fx, reg.address, 'lending/credit-risk', RW);
    const own = {
      card: a2aCard({ name: 'lending/credit-risk' }),
      cardUrl: 'https://risk:8443/.well-known/agent-card.json',
      caPem: '',
    };
    await expect(
      risk.registerAgent({
        card: agentCard('lending/credit-risk', { a2a: { ...own, external: true } }),
        endpoint: endpoint('r1'),
        leaseTtl: undefined,
      }),
    ).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining('card.a2a.external') });
    await risk.registerAgent({
      card: agentCard('lending/credit-risk', { version: '7.0.0', a2a: { ...own, external: false } }),
      endpoint: endpoint('r1'),
      leaseTtl: undefined,
    });
    const got = await admin.getAgent({ name: 'lending/credit-risk', version: '7.0.0' });
    expect(got.card?.a2a).toEqual({ ...own, external: false });
    // The name is a workload's: an administrator cannot register an external agent under it.
    await expect(
      admin.registerExternalAgent({ card: externalCard({ name: 'lending/credit-risk', version: '9.0.0' }) }),
    ).rejects.toMatchObject({ code: Code.FAILED_PRECONDITION });
    admin.close();
    risk.close();
  });
});
