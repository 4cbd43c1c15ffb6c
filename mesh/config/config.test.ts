import { z } from 'zod';
import { ConfigError, kernelConfigSchema, loadConfig, port } from './config.js';

describe('loadConfig', () => {
  test('applies defaults and coerces numbers', () => {
    const config = loadConfig(kernelConfigSchema, { AGENTMESH_PORT: '7001' });
    expect(config.AGENTMESH_PORT).toBe(7001);
    expect(config.AGENTMESH_HOST).toBe('127.0.0.1');
    expect(config.AGENTMESH_LOG_LEVEL).toBe('info');
  });

  test.each([
    [{ AGENTMESH_PORT: 'x' }, 'AGENTMESH_PORT must be a port number'],
    [{ AGENTMESH_PORT: '70000' }, 'AGENTMESH_PORT must be between 0 and 65535'],
    [{ AGENTMESH_PORT: '1.5' }, 'AGENTMESH_PORT must be an integer'],
    [
      { AGENTMESH_LOG_LEVEL: 'loud' },
      'AGENTMESH_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent',
    ],
    [{ AGENTMESH_SHUTDOWN_GRACE_MS: '-1' }, 'AGENTMESH_SHUTDOWN_GRACE_MS must not be negative'],
  ])('%j is refused naming the variable', (env, message) => {
    expect(() => loadConfig(kernelConfigSchema, env)).toThrow(
      new ConfigError(message.split(' ')[0]!, message.split(' ').slice(1).join(' ')),
    );
  });

  test('a required variable that is missing or empty is named as required, and its value is never echoed', () => {
    const schema = z.object({ API_SECRET: z.string().min(8, 'must be at least 8 characters'), PORT: port() });
    expect(() => loadConfig(schema, { PORT: '1' })).toThrow('invalid configuration: API_SECRET is required');
    expect(() => loadConfig(schema, { API_SECRET: '', PORT: '1' })).toThrow('API_SECRET is required');
    let message = '';
    try {
      loadConfig(schema, { API_SECRET: 'hunter2', PORT: '1' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe('invalid configuration: API_SECRET must be at least 8 characters');
    expect(message).not.toContain('hunter2');
  });
});
