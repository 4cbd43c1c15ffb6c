import { DiscoveryScope } from '../../gen/agentmesh/v1/card.js';
import { DiscoveryIndex } from './discovery-index.js';
import { compileScope, type Candidate } from './scope-match.js';

const candidate = (name: string, over: Partial<Candidate> = {}): Candidate => ({
  kind: 'agent',
  name,
  version: '1.0.0',
  purpose: `Agent ${name}`,
  description: '',
  policies: [],
  skills: [{ id: 'generic', name: 'Generic', description: 'does things', tags: ['misc'] }],
  labels: {},
  ...over,
});
const scope = (s: Parameters<typeof DiscoveryScope.fromPartial>[0]) => compileScope(DiscoveryScope.fromPartial(s));

describe('discovery index', () => {
  const index = new DiscoveryIndex<string>();
  for (let i = 0; i < 2_000; i++)
    index.put({ key: `agent:ns${i % 20}/a${i}@1.0.0`, candidate: candidate(`ns${i % 20}/a${i}`), value: `v${i}` });
  index.put({
    key: 'agent:lending/credit-risk@2.0.0',
    candidate: candidate('lending/credit-risk', {
      version: '2.0.0',
      purpose: 'Assess credit risk',
      policies: ['gdpr'],
      skills: [{ id: 'assess-credit-risk', name: 'Assess', description: 'credit score', tags: ['credit'] }],
    }),
    value: 'the one',
  });

  test('finds the single right entry by strict name, skill, policy or text, and agrees with a full scan', () => {
    for (const s of [
      { visibility: { names: ['lending/credit-risk'] } },
      { characteristics: { skillIds: ['assess-credit-risk'] } },
      { characteristics: { policies: ['gdpr'], tags: ['credit'] } },
      { characteristics: { text: 'credit risk assessment' } },
      { visibility: { patterns: [{ pattern: { $case: 'glob' as const, glob: 'lending/*' } }] } },
    ]) {
      const [best] = index.search(scope(s), 1);
      expect(best?.value).toBe('the one');
    }
  });

  test('namespace scope returns only that namespace, ranked and limited', () => {
    const found = index.search(scope({ visibility: { namespaces: ['ns3'] } }), 1_000);
    expect(found).toHaveLength(100);
    expect(found.every((f) => f.candidate.name.startsWith('ns3/'))).toBe(true);
  });

  test('deleted entries disappear from every index', () => {
    index.delete('agent:lending/credit-risk@2.0.0');
    expect(index.search(scope({ characteristics: { skillIds: ['assess-credit-risk'] } }), 1)).toEqual([]);
    expect(index.search(scope({ characteristics: { text: 'credit' } }), 1)).toEqual([]);
  });

  test('a card put again unchanged keeps its place among equals and carries the new value; a changed one is indexed anew', () => {
    const small = new DiscoveryIndex<string>();
    const card = candidate('lending/twin', { version: '3.0.0' });
    small.put({ key: 'agent:lending/twin@3.0.0', candidate: card, value: 'agent' });
    small.put({ key: 'tool:lending/twin@3.0.0', candidate: { ...card, kind: 'tool' }, value: 'tool' });
    small.put({
      key: 'agent:lending/twin@3.0.0',
      candidate: { ...card, skills: [...card.skills] },
      value: 'agent again',
    });
    const byName = scope({ visibility: { names: ['lending/twin'] } });
    expect(small.search(byName, 2).map((r) => r.value)).toEqual(['agent again', 'tool']);
    small.put({ key: 'agent:lending/twin@3.0.0', candidate: { ...card, purpose: 'Twin, changed' }, value: 'changed' });
    expect(small.search(byName, 2).map((r) => r.value)).toEqual(['tool', 'changed']);
    expect(small.search(scope({ characteristics: { text: 'changed' } }), 2).map((r) => r.value)).toEqual(['changed']);
  });
});
