import { migrations } from './migrations.js';
import { compatFloors, type SchemaMigration } from './schema-compat.js';

const up = async () => undefined;
const expand: SchemaMigration = { kind: 'expand', up };
const contract = (readableBy?: number): SchemaMigration => ({ kind: 'contract', readableBy, up });

describe('compatibility floors', () => {
  test("this release's migrations are all expand: code of version 1 can run on every schema they leave", () => {
    const floors = compatFloors(migrations({ json: 'text', time: 'text' }));
    expect([...floors.values()].every((f) => f === 1)).toBe(true);
    expect([...floors.keys()]).toEqual(Object.keys(migrations({ json: 'text', time: 'text' })).sort());
  });

  test('expand keeps the floor, a contract raises it to its readableBy (default: its own version), in name order', () => {
    const floors = compatFloors({
      '0005_e': expand,
      '0001_a': expand,
      '0003_c': contract(),
      '0002_b': expand,
      '0004_d': contract(2),
      '0006_f': contract(5),
    });
    expect([...floors]).toEqual([
      ['0001_a', 1],
      ['0002_b', 1],
      ['0003_c', 3],
      ['0004_d', 3],
      ['0005_e', 3],
      ['0006_f', 5],
    ]);
  });

  test.each([
    [contract(4), /readableBy must be a version from 1 to 3, got 4/],
    [contract(0), /readableBy must be a version from 1 to 3, got 0/],
    [contract(2.5), /readableBy must be a version from 1 to 3, got 2.5/],
    [{ kind: 'shrink', up } as unknown as SchemaMigration, /kind must be 'expand' or 'contract'/],
  ])('refuses a declaration that cannot be right (%#)', (bad, message) => {
    expect(() => compatFloors({ '0001_a': expand, '0003_x': bad })).toThrow(message);
  });
});
