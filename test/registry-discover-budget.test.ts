import { DiscoveryScope } from '../gen/agentmesh/v1/card.js';
import { Code, RETRY_PUSHBACK_TRAILER, type MeshError, type Principal } from '../mesh/index.js';
import {
  agentCard,
  cleanupDir,
  endpoint,
  REGISTRY_CLIENTS,
  registryClientAs,
  startRegistry,
  type RegistryUnderTest,
} from './helpers/registry-server.js';
import { createSecureFixture, idOf, type SecureFixture } from './helpers/secure-mesh.js';

// Discover does bounded work: a search that would check more entries than the registry's budget
// is refused with RESOURCE_EXHAUSTED saying what to narrow, and queries whose answer is empty or
// nearly so (a label nobody has, patterns needing characters no name holds) are answered by the
// index without checking entries. The budget is set small here so six cards can exceed it.

const NAMES = [
  'lending/credit-risk',
  'lending/credit-score',
  'payments/ledger',
  'payments/fxquotes',
  'kyc/screening',
  'kyc/sanctions',
];
const BUDGET = 20;

const regex = (...texts: string[]) =>
  DiscoveryScope.fromPartial({
    visibility: { patterns: texts.map((regex) => ({ pattern: { $case: 'regex' as const, regex } })) },
  });

describe('Discover within a work budget', () => {
  let fx: SecureFixture;
  let reg: RegistryUnderTest;

  beforeAll(async () => {
    fx = await createSecureFixture(REGISTRY_CLIENTS);
    reg = await startRegistry(fx, undefined, { maxExamined: BUDGET });
    for (const name of NAMES) {
      const [ns, sa] = name.split('/') as [string, string];
      const caller = { peer: { spiffeId: idOf(ns, sa), source: 'mtls' }, subject: name, scopes: [], actors: [] };
      const labels: Record<string, string> = name === 'kyc/sanctions' ? { team: 'compliance' } : {};
      await reg.registry.register(
        'agent',
        agentCard(name, { labels }),
        endpoint(`${sa}-1`),
        30_000,
        caller as unknown as Principal,
      );
    }
  });
  afterAll(async () => {
    await reg.stop();
    cleanupDir(reg.dataDir);
    await fx.close();
  });

  const discover = async (scope: DiscoveryScope, maxResults = 5) => {
    const reader = await registryClientAs(fx, reg.address, 'lending/orchestrator', ['registry.read']);
    try {
      const answer = await reader.discover({ scope, maxResults });
      return answer.matches.map((m) => ({
        name: (m.entry!.card as { agent: { name: string } }).agent.name,
        reason: m.reasons[0],
      }));
    } finally {
      reader.close();
    }
  };

  test('a scope past the budget is RESOURCE_EXHAUSTED, saying what to narrow; the registry answers on', async () => {
    // 30 patterns without a literal prefix whose characters every name holds: each of 6 names runs all 30.
    const broad = regex(...Array.from({ length: 30 }, (_, k) => `.*[a-z]-rest[a-z]{${k}}`));
    const refusal = discover(broad);
    await expect(refusal).rejects.toMatchObject({ code: Code.RESOURCE_EXHAUSTED });
    await expect(refusal).rejects.toThrow(
      /scope too broad: .*budget of 20 entries.*patterns\[0\] has no literal prefix/,
    );
    // Permanent (the same scope checks the same entries again): `grpc-retry-pushback-ms: -1` in its
    // trailers (gRFC A6), so neither our clients nor grpc-js's own retries send it again.
    const err = (await refusal.catch((e: unknown) => e)) as MeshError;
    expect(err.metadata?.get(RETRY_PUSHBACK_TRAILER)).toEqual(['-1']);
    expect(err.permanent).toBe(true);
    // Nothing changed: the same registry answers a narrow query, and a broad one that finishes early.
    expect(await discover(regex('payments/l.*'))).toEqual([
      { name: 'payments/ledger', reason: 'name matches regex payments/l.*' },
    ]);
    expect(await discover(regex('.*'), 1)).toHaveLength(1);
  });

  test('a label nobody has is an empty answer, a label one card has finds it', async () => {
    const labelled = (team: string) => DiscoveryScope.fromPartial({ characteristics: { labels: { team } } });
    expect(await discover(labelled('nobody'))).toEqual([]);
    expect((await discover(labelled('compliance'))).map((m) => m.name)).toEqual(['kyc/sanctions']);
  });

  test('a regex without literal prefix finds the one name it matches, within the budget', async () => {
    expect(await discover(regex('.*[xyz]q.*'))).toEqual([
      { name: 'payments/fxquotes', reason: 'name matches regex .*[xyz]q.*' },
    ]);
    expect(await discover(regex('.*[xyz]j.*'))).toEqual([]);
  });

  test('100 patterns of 10 prefixes each: none matching is an empty answer, one matching is found', async () => {
    const patterns = (match: number) =>
      Array.from({ length: 100 }, (_, k) => `payments/[a-j]xquote${k === match ? 's' : `s${k}`}`);
    expect(await discover(regex(...patterns(-1)))).toEqual([]);
    expect(await discover(regex(...patterns(57)))).toEqual([
      { name: 'payments/fxquotes', reason: 'name matches regex payments/[a-j]xquotes' },
    ]);
  });
});
