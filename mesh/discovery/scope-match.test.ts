import { DiscoveryScope, EntryKind } from '../../gen/agentmesh/v1/card.js';
import { Code } from '../core/index.js';
import { compareMatches, compileScope, matchCandidate, type Candidate } from './scope-match.js';

const agent = (over: Partial<Candidate>): Candidate => ({
  kind: 'agent',
  name: 'lending/credit-risk',
  version: '1.2.0',
  purpose: 'Assess the credit risk of a retail loan applicant',
  description: 'Scores applicants from bureau data and affordability.',
  policies: ['eu-ccd', 'gdpr'],
  skills: [
    {
      id: 'assess-credit-risk',
      name: 'Assess credit risk',
      description: 'Score an applicant',
      tags: ['credit', 'retail'],
    },
  ],
  labels: { tier: 'gold' },
  ...over,
});

const scope = (s: Partial<Parameters<typeof DiscoveryScope.fromPartial>[0]>) =>
  compileScope(DiscoveryScope.fromPartial(s));

describe('discovery scoping rules', () => {
  test('visibility: namespaces, strict names and patterns', () => {
    expect(matchCandidate(agent({}), scope({ visibility: { namespaces: ['lending'] } }))?.reasons[0]).toBe(
      'in namespace lending',
    );
    expect(matchCandidate(agent({}), scope({ visibility: { names: ['lending/credit-risk'] } }))?.reasons[0]).toBe(
      'named exactly lending/credit-risk',
    );
    expect(matchCandidate(agent({}), scope({ visibility: { names: ['lending/credit'] } }))).toBeUndefined();
    expect(
      matchCandidate(
        agent({}),
        scope({ visibility: { patterns: [{ pattern: { $case: 'glob', glob: 'lending/*' } }] } }),
      )?.reasons[0],
    ).toBe('name matches glob lending/*');
    expect(matchCandidate(agent({}), scope({ visibility: { namespaces: ['payments'] } }))).toBeUndefined();
  });

  test('characteristics all have to hold', () => {
    const full = scope({
      characteristics: {
        skillIds: ['assess-credit-risk'],
        tags: ['Credit'],
        policies: ['gdpr'],
        labels: { tier: 'gold' },
        versionConstraint: '^1.0.0',
      },
    });
    expect(matchCandidate(agent({}), full)?.reasons).toEqual([
      'visible (no visibility scope)',
      'offers skill assess-credit-risk',
      'tagged credit',
      'adheres to gdpr',
      'labelled tier=gold',
      'version 1.2.0 satisfies ^1.0.0',
    ]);
    expect(matchCandidate(agent({ policies: ['eu-ccd'] }), full)).toBeUndefined();
    expect(matchCandidate(agent({ version: '2.0.0' }), full)).toBeUndefined();
    expect(matchCandidate(agent({ labels: {} }), full)).toBeUndefined();
    expect(
      matchCandidate(agent({}), scope({ characteristics: { kinds: [EntryKind.ENTRY_KIND_TOOL] } })),
    ).toBeUndefined();
  });

  test('free text ranks purpose above description, and unrelated entries do not match', () => {
    const s = scope({ characteristics: { text: 'credit risk' } });
    const byPurpose = { candidate: agent({}), match: matchCandidate(agent({}), s)! };
    const other = agent({
      name: 'lending/pricing',
      purpose: 'Price loans',
      description: 'Uses credit risk scores.',
      skills: [],
    });
    const byDescription = { candidate: other, match: matchCandidate(other, s)! };
    expect([byDescription, byPurpose].sort(compareMatches)[0]!.candidate.name).toBe('lending/credit-risk');
    expect(matchCandidate(agent({ purpose: 'Book payments', description: 'x', skills: [] }), s)).toBeUndefined();
  });

  test('ties go to the higher version', () => {
    const s = scope({});
    const v1 = { candidate: agent({ version: '1.2.0' }), match: matchCandidate(agent({}), s)! };
    const v2 = { candidate: agent({ version: '1.10.0' }), match: matchCandidate(agent({}), s)! };
    expect([v1, v2].sort(compareMatches)[0]!.candidate.version).toBe('1.10.0');
  });

  test.each([
    [{ characteristics: { versionConstraint: 'not a range' } }, 'scope.characteristics.version_constraint'],
    [{ characteristics: { text: 'x'.repeat(600) } }, 'scope.characteristics.text'],
    [
      { visibility: { patterns: [{ pattern: { $case: 'regex' as const, regex: '([' } }] } },
      'scope.visibility.patterns[0].regex',
    ],
  ])('bad scope %j is INVALID_ARGUMENT naming %s', (s, field) => {
    expect(() => scope(s)).toThrow(
      expect.objectContaining({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining(field) }),
    );
  });
});
