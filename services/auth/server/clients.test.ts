import { ClientDirectory, parseClients } from './clients.js';

const federated = { issuer: 'https://oidc.cluster.example', subject: 'system:serviceaccount:demo:agent' };

test('a federated credential alone stands for auth method federated', () => {
  const [client] = parseClients([{ client_id: 'demo/agent', federated }]);
  expect(client).toMatchObject({ auth: { method: 'federated' }, federated });
});

test('auth method federated without a federated credential is refused, named', () => {
  expect(() => parseClients([{ client_id: 'demo/agent', auth: { method: 'federated' } }])).toThrow(
    'invalid client registration at [0.federated]: required by auth method federated',
  );
});

test('a federated credential with an unknown field or a bad issuer is refused, named', () => {
  expect(() => parseClients([{ client_id: 'demo/agent', federated: { ...federated, aud: 'x' } }])).toThrow(
    /invalid client registration at \[0\.federated\]/,
  );
  expect(() => parseClients([{ client_id: 'demo/agent', federated: { ...federated, issuer: 'cluster' } }])).toThrow(
    /invalid client registration at \[0\.federated\.issuer\]/,
  );
});

test('the client of an assertion without client_id: the one registered for its issuer and subject', () => {
  const directory = new ClientDirectory(
    parseClients([
      { client_id: 'demo/agent', federated },
      { client_id: 'demo/other', federated: { ...federated, subject: 'system:serviceaccount:demo:other' } },
    ]),
  );
  expect(directory.federatedAs(federated.issuer, 'system:serviceaccount:demo:other')?.client_id).toBe('demo/other');
  expect(directory.federatedAs('https://elsewhere.example', federated.subject)).toBeUndefined();
});
