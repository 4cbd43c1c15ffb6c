/**
 * ESM all the way (jose 6 is ESM-only): ts-jest's default-esm preset with
 * NODE_OPTIONS=--experimental-vm-modules (set by `npm run jest`). Type errors
 * are caught by `npm run typecheck`; ts-jest only transpiles (isolatedModules).
 */
export default {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  roots: ['<rootDir>/mesh', '<rootDir>/services', '<rootDir>/devtools', '<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
  testTimeout: 30_000,
};
