import { Code } from '../core/index.js';
import { parseModelAliases } from './chat-model.js';

describe('model aliases (AGENTMESH_MODELS)', () => {
  test('several aliases side by side, each with its own model and optionally its own endpoint', () => {
    expect([...parseModelAliases(' small=gpt-4o-mini , judge=llama3:70b@http://127.0.0.1:11434/v1,,')]).toEqual([
      ['small', { model: 'gpt-4o-mini' }],
      ['judge', { model: 'llama3:70b', baseURL: 'http://127.0.0.1:11434/v1' }],
    ]);
    expect(parseModelAliases(undefined).size).toBe(0);
  });

  test.each([
    ['small', 'expected alias=model'],
    ['=gpt', 'expected alias=model'],
    ['small=gpt 4', 'expected alias=model'],
    ['small=a,small=b', 'defined twice'],
  ])('%s is refused: %s', (spec, message) => {
    expect(() => parseModelAliases(spec)).toThrow(
      expect.objectContaining({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining(message) }),
    );
  });
});
