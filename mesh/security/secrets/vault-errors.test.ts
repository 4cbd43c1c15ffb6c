import { describeVaultFailure, vaultStatus, withoutSecrets } from './vault-errors.js';

const address = 'https://vault.example:8200';
const answered = (statusCode: number, body: unknown) =>
  Object.assign(new Error('x'), { response: { statusCode, body } });

describe('describeVaultFailure', () => {
  test('maps 403 and 404 to the words a reader expects', () => {
    expect(
      describeVaultFailure(answered(403, { errors: ['1 error occurred:\n\t* permission denied\n\n'] }), address),
    ).toBe('permission denied');
    expect(describeVaultFailure(answered(404, { errors: [] }), address)).toBe('not found');
    const deleted = {
      errors: [],
      data: { data: null, metadata: { deletion_time: '2024-01-01T00:00:00Z', destroyed: false } },
    };
    expect(describeVaultFailure(answered(404, deleted), address)).toBe('not found (deleted)');
  });

  test("keeps Vault's own words for other statuses, without multierror noise", () => {
    expect(describeVaultFailure(answered(400, { errors: ['invalid role or secret ID'] }), address)).toBe(
      'Vault answered 400: invalid role or secret ID',
    );
    expect(
      describeVaultFailure(answered(503, { errors: ['1 error occurred:\n\t* Vault is sealed\n\n'] }), address),
    ).toBe('Vault answered 503: Vault is sealed');
  });

  test('scrubs credentials Vault might echo', () => {
    const echoed = answered(400, { errors: ['bad secret_id s3cr3t-value'] });
    expect(describeVaultFailure(echoed, address, ['s3cr3t-value'])).toBe(
      'Vault answered 400: bad secret_id [REDACTED]',
    );
  });

  test('transport failures name the address and code, never the request', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), {
      code: 'ECONNREFUSED',
      config: { headers: { 'X-Vault-Token': 'hvs.secret' } },
    });
    expect(describeVaultFailure(refused, address)).toBe(`Vault unreachable at ${address} (ECONNREFUSED)`);
    const untrusted = Object.assign(new Error('self-signed'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    expect(describeVaultFailure(untrusted, address)).toMatch(
      `Vault unreachable at ${address}: TLS certificate not trusted (SELF_SIGNED_CERT_IN_CHAIN)`,
    );
  });
});

test('vaultStatus is the answer status, or undefined when none came', () => {
  expect(vaultStatus(answered(429, {}))).toBe(429);
  expect(vaultStatus(new Error('socket hang up'))).toBeUndefined();
});

test('withoutSecrets ignores empty and tiny strings, which would shred the text', () => {
  expect(withoutSecrets('token abc here', ['', 'a', 'abc-long-token'])).toBe('token abc here');
});
