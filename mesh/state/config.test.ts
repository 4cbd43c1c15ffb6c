import { ConfigError } from '../config/index.js';
import { loadStateConfig } from './config.js';
import { sqlitePath } from './sqlite-backend.js';

describe('state configuration', () => {
  test('defaults to the embedded store with durable commits', () => {
    const config = loadStateConfig({});
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.AGENTMESH_SQLITE_SYNCHRONOUS).toBe('FULL');
    expect(config.AGENTMESH_DB_POOL_MAX).toBe(10);
    expect(config.AGENTMESH_DB_SYNCHRONOUS_COMMIT).toBe('on');
    expect(config.AGENTMESH_DB_PREPARED_STATEMENTS).toBe('named');
    expect(sqlitePath('lending/credit-risk', { ...config, AGENTMESH_DATA_DIR: '/data' })).toBe(
      '/data/lending/credit-risk/state.db',
    );
  });

  test('reads PostgreSQL and pool settings', () => {
    const config = loadStateConfig({
      DATABASE_URL: 'postgresql://u:p@db:5432/x',
      AGENTMESH_DB_POOL_MAX: '32',
      AGENTMESH_DB_STATEMENT_TIMEOUT_MS: '2500',
    });
    expect(config).toMatchObject({ AGENTMESH_DB_POOL_MAX: 32, AGENTMESH_DB_STATEMENT_TIMEOUT_MS: 2500 });
  });

  test.each([
    [{ DATABASE_URL: 'mysql://root:hunter2@db/x' }, 'DATABASE_URL', 'must be a postgres:// or postgresql:// URL'],
    [{ AGENTMESH_DB_POOL_MAX: '0' }, 'AGENTMESH_DB_POOL_MAX', 'must be between 1 and 1000'],
    [
      { AGENTMESH_DB_STATEMENT_TIMEOUT_MS: 'soon' },
      'AGENTMESH_DB_STATEMENT_TIMEOUT_MS',
      'must be a number of milliseconds',
    ],
    [{ AGENTMESH_SQLITE_SYNCHRONOUS: 'OFF' }, 'AGENTMESH_SQLITE_SYNCHRONOUS', 'must be FULL or NORMAL'],
    [{ AGENTMESH_DB_SYNCHRONOUS_COMMIT: 'local' }, 'AGENTMESH_DB_SYNCHRONOUS_COMMIT', 'must be on or off'],
    [{ AGENTMESH_DB_PREPARED_STATEMENTS: 'off' }, 'AGENTMESH_DB_PREPARED_STATEMENTS', 'must be named or unnamed'],
    [{ AGENTMESH_DB_SCHEMA: 'a"; drop' }, 'AGENTMESH_DB_SCHEMA', 'must be 1-63 letters, digits, _, - or /'],
  ])('%j is refused naming the variable, never its value', (env, variable, problem) => {
    expect(() => loadStateConfig(env)).toThrow(new ConfigError(variable, problem));
    try {
      loadStateConfig(env);
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2');
    }
  });
});
