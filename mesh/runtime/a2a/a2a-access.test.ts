import { AgentCard as A2aCardJson } from '@a2a-js/sdk';
import { Code } from '../../core/index.js';
import { a2aAccessFor } from './a2a-access.js';

const MESH = 'https://127.0.0.1:8443/oauth2/token';

/** A card with an OAuth2 scheme at each token URL given (oauth2, oauth2b...), mutual TLS, and `requirements`. */
const card = (tokenUrls: string[], requirements: object[], skillRequirements: object[] = []) =>
  A2aCardJson.fromJSON({
    name: 'partner',
    description: 'a partner agent',
    version: '1',
    supportedInterfaces: [{ url: '127.0.0.1:1', protocolBinding: 'GRPC', protocolVersion: '1.0' }],
    securitySchemes: {
      ...Object.fromEntries(
        tokenUrls.map((tokenUrl, i) => [
          i ? `oauth2${i}` : 'oauth2',
          { oauth2SecurityScheme: { flows: { clientCredentials: { tokenUrl, scopes: { 'task.write': 'x' } } } } },
        ]),
      ),
      mtls: { mtlsSecurityScheme: { description: 'certificates' } },
      key: { apiKeySecurityScheme: { location: 'header', name: 'x-api-key' } },
    },
    securityRequirements: requirements,
    skills: [{ id: 'convert', name: 'convert', description: '', securityRequirements: skillRequirements }],
  });

describe('what calling an external A2A agent takes, from its card', () => {
  test('no requirement: no token (mutual TLS when the card declares it)', () => {
    expect(a2aAccessFor(card([MESH], []), 'convert', MESH, 'partners/fx')).toEqual({ mutualTls: true });
  });

  test("an OAuth2 scheme at the mesh's token endpoint: the caller's token, exchanged, with the required scopes", () => {
    const access = a2aAccessFor(
      card(
        ['HTTPS://Auth.Mesh.Test:443/oauth2/token'],
        [{ schemes: { oauth2: { list: ['task.write'] }, mtls: { list: [] } } }],
      ),
      'convert',
      'https://auth.mesh.test/oauth2/token',
      'partners/fx',
    );
    // The same URL however it is spelled (scheme and host case, the default port).
    expect(access).toEqual({ token: { scopes: ['task.write'] }, mutualTls: true });
  });

  test('a token from another issuer is refused, naming its token URL (not retryable)', () => {
    const foreign = card(['https://idp.partner.example/token'], [{ schemes: { oauth2: { list: [] } } }]);
    expect(() => a2aAccessFor(foreign, 'convert', MESH, 'partners/fx')).toThrow(
      expect.objectContaining({
        code: Code.FAILED_PRECONDITION,
        message: expect.stringContaining('requires an OAuth2 token from https://idp.partner.example/token'),
      }),
    );
  });

  test('any one requirement that can be met is used; the skill’s requirements replace the card’s', () => {
    const either = card(
      ['https://idp.partner.example/token', MESH],
      [{ schemes: { oauth2: { list: [] } } }, { schemes: { oauth21: { list: ['task.read'] } } }],
    );
    expect(a2aAccessFor(either, 'convert', MESH, 'partners/fx').token).toEqual({ scopes: ['task.read'] });
    const skillOnly = card([MESH], [{ schemes: { key: { list: [] } } }], [{ schemes: { mtls: { list: [] } } }]);
    expect(a2aAccessFor(skillOnly, 'convert', MESH, 'partners/fx')).toEqual({ mutualTls: true });
  });

  test('schemes agentmesh does not present (API keys) are refused by name', () => {
    expect(() =>
      a2aAccessFor(card([MESH], [{ schemes: { key: { list: [] } } }]), 'convert', MESH, 'partners/fx'),
    ).toThrow(
      'cannot call external A2A agent partners/fx: its card requires security scheme key (apiKey), which agentmesh does not present',
    );
  });
  test('an OAuth2 requirement listing no scopes is refused, naming it (a scopeless token would carry every scope)', () => {
    const unscoped = card([MESH], [{ schemes: { oauth2: { list: [] }, mtls: { list: [] } } }]);
    expect(() => a2aAccessFor(unscoped, 'convert', MESH, 'partners/fx')).toThrow(
      expect.objectContaining({
        code: Code.FAILED_PRECONDITION,
        message: expect.stringContaining(
          "its card's security requirement 0 lists no scopes for OAuth2 scheme oauth2; a token without named scopes would carry every scope of the caller",
        ),
      }),
    );
  });
});
