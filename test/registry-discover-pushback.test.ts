// The registry's Discover budget refusal ("scope too broad") is permanent: the same scope checks
// the same entries again. It goes out with `grpc-retry-pushback-ms: -1` (gRFC A6), so neither our
// clients nor grpc-js's own retries send it again; the registry stays a healthy collaborator.
// A real registry over mTLS with a tiny budget, as in registry-discover-budget.test.ts.
import { DiscoveryScope } from '../gen/agentmesh/v1/card.js';
import { Code, isMeshError, RETRY_PUSHBACK_TRAILER, type MeshError, type Principal } from '../mesh/index.js';
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

const NAMES = ['lending/credit-risk', 'lending/credit-score', 'payments/ledger', 'payments/fxquotes'];

describe('the Discover budget refusal on the wire', () => {
  let fx: SecureFixture;
  let reg: RegistryUnderTest;

  beforeAll(async () => {
    fx = await createSecureFixture(REGISTRY_CLIENTS);
    reg = await startRegistry(fx, undefined, { maxExamined: 20 });
    for (const name of NAMES) {
      const [ns, sa] = name.split('/') as [string, string];
      const caller = { peer: { spiffeId: idOf(ns, sa), source: 'mtls' }, subject: name, scopes: [], actors: [] };
      await reg.registry.register(
        'agent',
        agentCard(name),
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

  /** The error a Discover for `regexes` ends with (it must be refused). */
  const refusalOf = async (...regexes: string[]): Promise<MeshError> => {
    const scope = DiscoveryScope.fromPartial({
      visibility: { patterns: regexes.map((regex) => ({ pattern: { $case: 'regex' as const, regex } })) },
    });
    const reader = await registryClientAs(fx, reg.address, 'lending/orchestrator', ['registry.read']);
    try {
      await reader.discover({ scope, maxResults: 5 });
    } catch (err) {
      if (isMeshError(err)) return err;
      throw err;
    } finally {
      reader.close();
    }
    throw new Error('Discover answered a scope past its budget');
  };

  test('a scope past the budget is RESOURCE_EXHAUSTED with grpc-retry-pushback-ms: -1 in its trailers', async () => {
    // 30 patterns without a literal prefix whose characters every name holds: each name runs all 30.
    const err = await refusalOf(...Array.from({ length: 30 }, (_, k) => `.*[a-z]-rest[a-z]{${k}}`));
    expect(err.code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(err.message).toMatch(/^scope too broad: .*budget of 20 entries/);
    // The trailing metadata as the call's status carried it, and what our client made of it.
    expect(err.metadata?.get(RETRY_PUSHBACK_TRAILER)).toEqual(['-1']);
    expect(err.permanent).toBe(true);
  });
});
