import { createLogger } from '../telemetry/index.js';
import { StaticCards } from './static-cards.js';

describe('the cards of statically routed collaborators', () => {
  const log = createLogger({ service: 'test/cards', level: 'silent' });

  test('fetched once while fresh; a collaborator that stops answering keeps its last card; one never reached is left out', async () => {
    const cards = new StaticCards(log);
    const calls: string[] = [];
    let down = new Set<string>(['b']);
    const fetch = async (name: string) => {
      calls.push(name);
      if (down.has(name)) throw new Error(`${name} unreachable`);
      return { name };
    };
    expect(await cards.of(['a', 'b'], fetch)).toEqual([{ name: 'a' }]);
    expect(await cards.of(['a', 'b'], fetch)).toEqual([{ name: 'a' }]);
    expect(calls).toEqual(['a', 'b', 'b']);
    down = new Set(['a']);
    const realNow = Date.now;
    Date.now = () => realNow() + 60_000;
    try {
      expect(await cards.of(['a', 'b'], fetch)).toEqual([{ name: 'a' }, { name: 'b' }]);
    } finally {
      Date.now = realNow;
    }
  });
});
