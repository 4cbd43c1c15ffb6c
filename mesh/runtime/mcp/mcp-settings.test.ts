import { ConfigError } from '../../config/index.js';
import { compileMcpOptions } from './mcp-settings.js';

describe('compileMcpOptions', () => {
  test('off unless AGENTMESH_MCP_PORT or the option asks for it', () => {
    expect(compileMcpOptions(undefined, {})).toBeUndefined();
    expect(compileMcpOptions(false, { AGENTMESH_MCP_PORT: '8082' })).toBeUndefined();
    expect(compileMcpOptions(true, {})).toEqual({ port: 0, clientCert: 'required', timeoutMs: 30_000 });
  });

  test('variables, with the option overriding each', () => {
    const env = {
      AGENTMESH_MCP_PORT: '8082',
      AGENTMESH_MCP_HOST: '0.0.0.0',
      AGENTMESH_MCP_ORIGIN: 'https://tools.example.com',
      AGENTMESH_MCP_CLIENT_CERT: 'optional',
      AGENTMESH_MCP_TIMEOUT_MS: '5000',
    };
    expect(compileMcpOptions(undefined, env)).toEqual({
      port: 8082,
      host: '0.0.0.0',
      origin: 'https://tools.example.com',
      clientCert: 'optional',
      timeoutMs: 5000,
    });
    expect(compileMcpOptions({ port: 9000, clientCert: 'required', timeoutMs: 100 }, env)).toMatchObject({
      port: 9000,
      clientCert: 'required',
      timeoutMs: 100,
    });
  });

  test.each([
    [{ AGENTMESH_MCP_PORT: '70000' }, 'AGENTMESH_MCP_PORT'],
    [{ AGENTMESH_MCP_PORT: '1', AGENTMESH_MCP_ORIGIN: 'https://x.example/mcp' }, 'AGENTMESH_MCP_ORIGIN'],
    [{ AGENTMESH_MCP_PORT: '1', AGENTMESH_MCP_CLIENT_CERT: 'sometimes' }, 'AGENTMESH_MCP_CLIENT_CERT'],
    [{ AGENTMESH_MCP_PORT: '1', AGENTMESH_MCP_TIMEOUT_MS: '-5' }, 'AGENTMESH_MCP_TIMEOUT_MS'],
  ])('an invalid variable stops startup naming it (%o)', (env, variable) => {
    expect(() => compileMcpOptions(undefined, env)).toThrow(ConfigError);
    expect(() => compileMcpOptions(undefined, env)).toThrow(variable);
  });

  test('an invalid option is named', () => {
    expect(() => compileMcpOptions({ origin: 'ftp://x' }, {})).toThrow('option mcp.origin');
    expect(() => compileMcpOptions({ clientCert: 'never' } as never, {})).toThrow('option mcp.clientCert');
  });

  test('a wildcard bind needs an origin: AGENTMESH_MCP_ORIGIN, else the host of AGENTMESH_ADVERTISE_ADDRESS', () => {
    for (const host of ['0.0.0.0', '::']) {
      expect(() => compileMcpOptions(undefined, { AGENTMESH_MCP_PORT: '8082', AGENTMESH_MCP_HOST: host })).toThrow(
        ConfigError,
      );
      expect(() => compileMcpOptions(undefined, { AGENTMESH_MCP_PORT: '8082', AGENTMESH_HOST: host })).toThrow(
        'AGENTMESH_MCP_ORIGIN',
      );
    }
    expect(
      compileMcpOptions(undefined, {
        AGENTMESH_MCP_PORT: '8082',
        AGENTMESH_HOST: '0.0.0.0',
        AGENTMESH_ADVERTISE_ADDRESS: 'loan-math.banking:8080',
      }),
    ).toMatchObject({ originHost: 'loan-math.banking' });
    expect(
      compileMcpOptions(undefined, {
        AGENTMESH_MCP_PORT: '8082',
        AGENTMESH_HOST: '0.0.0.0',
        AGENTMESH_MCP_ORIGIN: 'https://tools.example.com',
      }),
    ).not.toHaveProperty('originHost');
    expect(compileMcpOptions(undefined, { AGENTMESH_MCP_PORT: '8082' })).not.toHaveProperty('originHost');
  });
});
