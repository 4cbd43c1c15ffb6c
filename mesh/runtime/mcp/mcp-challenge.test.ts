import { challengeHeader, protectedResourceMetadata, resourceMetadataUrl } from './mcp-challenge.js';

const META = 'https://tools.example:8082/.well-known/oauth-protected-resource/mcp';

describe('MCP authorization challenges', () => {
  test('no token: the metadata URL and scopes, no error code (RFC 6750 §3.1)', () => {
    expect(challengeHeader({ status: 401, description: 'missing bearer access token' }, META, ['tools.invoke'])).toBe(
      `Bearer resource_metadata="${META}", scope="tools.invoke"`,
    );
  });

  test('a refused token or scope: the error and its description, quotes escaped', () => {
    const header = challengeHeader(
      { status: 403, error: 'insufficient_scope', description: 'token lacks scope "tools.invoke"\n' },
      META,
      ['tools.invoke', 'tools.read'],
    );
    expect(header).toBe(
      `Bearer resource_metadata="${META}", scope="tools.invoke tools.read", error="insufficient_scope", ` +
        'error_description="token lacks scope \\"tools.invoke\\" "',
    );
  });

  test('the RFC 9728 document and its path-suffixed URL', () => {
    expect(resourceMetadataUrl('https://tools.example:8082')).toBe(META);
    expect(
      protectedResourceMetadata({
        origin: 'https://tools.example:8082',
        issuers: ['https://auth.example'],
        scopes: ['tools.invoke', 'tools.invoke'],
        name: 'banking/loan-math',
      }),
    ).toEqual({
      resource: 'https://tools.example:8082/mcp',
      authorization_servers: ['https://auth.example'],
      scopes_supported: ['tools.invoke'],
      bearer_methods_supported: ['header'],
      resource_name: 'banking/loan-math',
    });
  });
});
