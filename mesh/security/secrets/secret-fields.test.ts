import { SecretError } from './provider.js';
import { toSecretFields } from './secret-fields.js';

test('accepts a flat map of strings', () => {
  expect(toSecretFields('a/b', { user: 'u', password: 'p' })).toEqual({ user: 'u', password: 'p' });
});

test.each([[null], ['text'], [['x']], [42]])('refuses %j as a secret, naming the path', (value) => {
  expect(() => toSecretFields('a/b', value)).toThrow(new SecretError('a/b', 'is not a map of fields'));
});

test('names the field that is not a string, never its value', () => {
  expect(() => toSecretFields('a/b', { port: 8200, nested: { v: 'x' } })).toThrow(
    'secret a/b: field "port" is not a string',
  );
});
