import { PRESETS } from './claim-mapping.js';
import { audienceFields } from './audience-fields.js';

describe("a person's token request names the audience as the issuer expects", () => {
  const aud = 'api://agentmesh-registry';
  test('rfc9068: RFC 8707 resource, the mesh scopes as asked', () => {
    expect(audienceFields(PRESETS.rfc9068.request, aud, ['task.read'], true)).toEqual([
      ['scope', 'openid offline_access task.read'],
      ['resource', aud],
    ]);
    expect(audienceFields(PRESETS.rfc9068.request, aud, [])).toEqual([['resource', aud]]);
  });

  test("entra: the resource's .default scope replaces the others (Entra refuses resource)", () => {
    expect(audienceFields(PRESETS.entra.request, `${aud}/`, ['task.read'], true)).toEqual([
      ['scope', `openid offline_access ${aud}/.default`],
    ]);
    expect(audienceFields(PRESETS.entra.request, aud, [])).toEqual([['scope', `${aud}/.default`]]);
  });

  test('okta: scopes only (one audience per authorization server); keycloak: audience', () => {
    expect(audienceFields(PRESETS.okta.request, aud, ['task.read'], true)).toEqual([
      ['scope', 'openid offline_access task.read'],
    ]);
    expect(audienceFields(PRESETS.okta.request, aud, [])).toEqual([]);
    expect(audienceFields(PRESETS.keycloak.request, aud, [])).toEqual([['audience', aud]]);
  });
});
