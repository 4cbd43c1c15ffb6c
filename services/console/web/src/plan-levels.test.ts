import { planLevels } from './plan-levels.js';

describe('the plan as a graph', () => {
  test('steps stand in the column after their last dependency; parallel steps share a column', () => {
    const steps = [
      { id: 'fx' },
      { id: 'risk', dependsOn: ['fx'] },
      { id: 'compliance', dependsOn: ['fx'] },
      { id: 'approval', dependsOn: ['risk', 'compliance'] },
      { id: 'decision', dependsOn: ['approval'] },
      { id: 'notify' },
    ];
    expect(planLevels(steps)).toEqual([['fx', 'notify'], ['risk', 'compliance'], ['approval'], ['decision']]);
  });

  test('unknown dependencies are ignored and an empty plan has no columns', () => {
    expect(planLevels([{ id: 'a', dependsOn: ['ghost'] }])).toEqual([['a']]);
    expect(planLevels([])).toEqual([]);
  });
});
