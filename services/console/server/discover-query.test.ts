import { EntryKind } from '../../../gen/agentmesh/v1/card.js';
import { scopeFromQuery } from './discover-query.js';

describe('marketplace search → discovery scope', () => {
  test('fields map to visibility and characteristics; lists repeat or are comma-separated', () => {
    const scope = scopeFromQuery(
      new URLSearchParams(
        'text=%20loans%20&namespace=lending,banking&skill=prequalify-loan&tag=retail&tag=loan&policy=bank/four-eyes&glob=lending/*&kind=agent',
      ),
    );
    expect(scope.visibility).toEqual({
      namespaces: ['lending', 'banking'],
      names: [],
      patterns: [{ pattern: { $case: 'glob', glob: 'lending/*' } }],
    });
    expect(scope.characteristics).toMatchObject({
      text: 'loans',
      skillIds: ['prequalify-loan'],
      tags: ['retail', 'loan'],
      policies: ['bank/four-eyes'],
      kinds: [EntryKind.ENTRY_KIND_AGENT],
    });
  });

  test('an empty search asks for everything visible', () => {
    expect(scopeFromQuery(new URLSearchParams(''))).toMatchObject({
      visibility: { namespaces: [], names: [], patterns: [] },
      characteristics: { text: '', kinds: [] },
    });
  });

  test('unknown fields and kinds are a 400 naming them', () => {
    expect(() => scopeFromQuery(new URLSearchParams('colour=red'))).toThrow('unknown search field "colour"');
    expect(() => scopeFromQuery(new URLSearchParams('kind=robot'))).toThrow('kind: agent or tool');
  });
});
