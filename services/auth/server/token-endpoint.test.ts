// The audience scheme at the token endpoint: clients are registered for service names, may ask by
// the service name or its audience under the scheme, and get tokens carrying the scheme's audience.
import { decodeJwt } from 'jose';
import { audienceScheme } from '../../../mesh/index.js';
import { captureLogger } from '../../../test/helpers/log-capture.js';
import { MemorySecrets, newSigningKeyPem } from '../../../test/helpers/secure-mesh.js';
import { ClientAuthenticator } from './client-auth.js';
import { ClientDirectory, parseClients } from './clients.js';
import { SigningKeys } from './signing-keys.js';
import { TokenEndpoint } from './token-endpoint.js';

const ISSUER = 'https://auth.mesh.example';
const secret = (id: string) => ({ client_id: id, auth: { method: 'client_secret_basic', secret_path: id } });
const basic = (id: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${id}-secret`).toString('base64')}`;

async function endpointWith(scheme: string, registered: string[]) {
  const clients = new ClientDirectory(
    parseClients([
      { ...secret('lending/agent'), scopes: ['task.read'], audiences: registered, token_exchange: true },
      { ...secret('lending/ledger'), audiences: [] },
      { ...secret('bank/portal'), scopes: ['task.read'], audiences: ['lending/agent'] },
    ]),
  );
  const secrets = new MemorySecrets(
    Object.fromEntries(clients.ids().map((id) => [id, { client_secret: `${id}-secret` }])),
  );
  const keys = new SigningKeys({ k1: await newSigningKeyPem() });
  return new TokenEndpoint({
    issuer: () => ISSUER,
    keys,
    authenticator: new ClientAuthenticator(clients, secrets, () => [ISSUER]),
    tokenTtlSec: 300,
    audienceOf: audienceScheme(scheme, 'agentmesh.local'),
    clientIds: () => clients.ids(),
    log: captureLogger('auth').log,
  });
}

const form = (fields: Record<string, string>) => new URLSearchParams({ grant_type: 'client_credentials', ...fields });

test('asked by service name, by audience, or by RFC 8707 resource: the token carries the scheme audience', async () => {
  const endpoint = await endpointWith('https://{name}.{namespace}.bank.example', ['lending/ledger']);
  for (const ask of <Record<string, string>[]>[
    { audience: 'lending/ledger' },
    { audience: 'https://ledger.lending.bank.example' },
    { resource: 'https://ledger.lending.bank.example' },
  ]) {
    const { access_token } = await endpoint.handle(form(ask), basic('lending/agent'));
    expect(decodeJwt(access_token).aud).toBe('https://ledger.lending.bank.example');
  }
});

test('an audience not registered, or unknown, is invalid_target naming it', async () => {
  const endpoint = await endpointWith('spiffe', ['lending/ledger']);
  await expect(
    endpoint.handle(form({ resource: 'spiffe://agentmesh.local/ns/bank/sa/portal' }), basic('lending/agent')),
  ).rejects.toMatchObject({
    error: 'invalid_target',
    description:
      'client lending/agent may not obtain tokens for spiffe://agentmesh.local/ns/bank/sa/portal (not among its registered audiences)',
  });
});

test('"*": any registered workload by its audience, any service by its name', async () => {
  const endpoint = await endpointWith('spiffe', ['*']);
  const byAudience = await endpoint.handle(
    form({ audience: 'spiffe://agentmesh.local/ns/lending/sa/ledger' }),
    basic('lending/agent'),
  );
  expect(decodeJwt(byAudience.access_token).aud).toBe('spiffe://agentmesh.local/ns/lending/sa/ledger');
  const byName = await endpoint.handle(form({ audience: 'payments/ledger' }), basic('lending/agent'));
  expect(decodeJwt(byName.access_token).aud).toBe('spiffe://agentmesh.local/ns/payments/sa/ledger');
});

test('token exchange: a subject token addressed to the agent under the scheme is the agent’s to exchange', async () => {
  const endpoint = await endpointWith('spiffe', ['lending/ledger']);
  const { access_token: forAgent } = await endpoint.handle(form({ audience: 'lending/agent' }), basic('bank/portal'));
  expect(decodeJwt(forAgent).aud).toBe('spiffe://agentmesh.local/ns/lending/sa/agent');
  const exchanged = await endpoint.handle(
    new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: forAgent,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      audience: 'lending/ledger',
    }),
    basic('lending/agent'),
  );
  expect(decodeJwt(exchanged.access_token)).toMatchObject({
    sub: 'bank/portal',
    aud: 'spiffe://agentmesh.local/ns/lending/sa/ledger',
    act: { sub: 'lending/agent' },
  });
});

test('an audience scheme that gives two registered services one audience: no token for either (it would serve both)', async () => {
  // `{name}` without `{namespace}`: lending/ledger and … a second "ledger" would share it; here the portal
  // and the agent are told apart, but a constant scheme makes every service one audience.
  const endpoint = await endpointWith('api://agentmesh', ['lending/ledger']);
  await expect(endpoint.handle(form({ audience: 'lending/ledger' }), basic('lending/agent'))).rejects.toMatchObject({
    error: 'invalid_target',
    description: expect.stringMatching(
      /^the audience api:\/\/agentmesh of lending\/ledger is also that of lending\/agent, bank\/portal: the audience scheme \(AGENTMESH_OAUTH_AUDIENCE\) must give each service its own$/,
    ),
  });
});
