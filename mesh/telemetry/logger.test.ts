import { createLogger, safeChild } from './logger.js';

function capture() {
  const lines: string[] = [];
  const log = createLogger({
    service: 'test/logger',
    level: 'info',
    destination: { write: (l: string) => void lines.push(l) },
  });
  return { log, text: () => lines.join('') };
}

describe('logger', () => {
  test('secrets are removed by path and personal data from every string, message included', () => {
    const { log, text } = capture();
    log.info(
      {
        metadata: { authorization: 'Bearer eyJhbGciOiJFUzI1NiJ9.e30.sig' },
        clientSecret: 's3cr3t-value',
        note: 'applicant +44 20 7946 0958',
      },
      'application from jane.doe@example.com with card 4111 1111 1111 1111',
    );
    const out = text();
    for (const secret of [
      'eyJhbGciOiJFUzI1NiJ9',
      's3cr3t-value',
      'jane.doe@example.com',
      '4111 1111 1111 1111',
      '7946 0958',
    ]) {
      expect(out).not.toContain(secret);
    }
    expect(JSON.parse(out)).toMatchObject({
      service: 'test/logger',
      level: 'info',
      msg: 'application from [EMAIL] with card [CARD]',
      note: 'applicant [PHONE]',
    });
  });

  test('child loggers made with safeChild have their bindings redacted', () => {
    const { log, text } = capture();
    safeChild(log, { subject: 'alice@example.com' }).info('call');
    expect(text()).not.toContain('alice@example.com');
    expect(JSON.parse(text()).subject).toBe('[EMAIL]');
  });

  test('errors keep their type and stack but lose personal data', () => {
    const { log, text } = capture();
    log.error({ err: new RangeError('no customer 123-45-6789') }, 'lookup failed');
    const line = JSON.parse(text());
    expect(line.err.message).toBe('no customer [SSN]');
    expect(line.err.type).toBe('RangeError');
    expect(line.err.stack).toContain('logger.test.ts');
    expect(line.err.stack).not.toContain('123-45-6789');
  });

  test('bearer tokens are removed wherever they are: free text, any key case, any depth', () => {
    const { log, text } = capture();
    const jwt = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';
    log.warn(
      { call: { md: { headers: { Authorization: `Bearer ${jwt}` } } }, upstream: { token: 'opaque-123456' } },
      `retrying with Bearer ${jwt}`,
    );
    log.info(`raw header authorization: bearer ${jwt}`);
    const out = text();
    expect(out).not.toContain(jwt);
    expect(out).not.toContain('opaque-123456');
    expect(out).not.toContain('eyJzdWIiOiJhbGljZSJ9');
    expect(out.split('\n').filter(Boolean)).toHaveLength(2);
  });
});
