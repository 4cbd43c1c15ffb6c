import { Metadata } from '@grpc/grpc-js';
import { Code, isMeshError, MeshError, pushbackForbidsRetry, RETRY_PUSHBACK_TRAILER } from './errors.js';

describe('MeshError.from', () => {
  test('keeps a MeshError as it is', () => {
    const err = new MeshError(Code.NOT_FOUND, 'no such task');
    expect(MeshError.from(err)).toBe(err);
  });

  test('turns an unknown error into INTERNAL with a generic message, keeping the cause for the log', () => {
    const cause = new Error('connection string postgres://admin:secret@db');
    const err = MeshError.from(cause);
    expect(err.code).toBe(Code.INTERNAL);
    expect(err.message).toBe('internal error');
    expect(err.cause).toBe(cause);
  });

  test('keeps the code of a grpc-js status error (a downstream call)', () => {
    const serviceError = Object.assign(new Error('5 NOT_FOUND: gone'), {
      code: Code.NOT_FOUND,
      details: 'gone',
      metadata: new Metadata(),
    });
    expect(MeshError.from(serviceError)).toMatchObject({ code: Code.NOT_FOUND, message: 'gone' });
  });

  test('strings and plain objects become INTERNAL', () => {
    expect(MeshError.from('oops').code).toBe(Code.INTERNAL);
    expect(MeshError.from({ code: 5 }).code).toBe(Code.INTERNAL);
  });

  test('isMeshError recognises errors from another copy of the module by brand', () => {
    const foreign = Object.assign(new Error('x'), { [Symbol.for('agentmesh.MeshError')]: true });
    expect(isMeshError(foreign)).toBe(true);
    expect(isMeshError(new Error('x'))).toBe(false);
  });
});

describe('retry pushback (gRFC A6)', () => {
  const trailer = (...values: string[]) => {
    const md = new Metadata();
    for (const v of values) md.add(RETRY_PUSHBACK_TRAILER, v);
    return md;
  };

  test('a negative or non-integer pushback forbids retries; a delay or no trailer does not', () => {
    expect(pushbackForbidsRetry(trailer('-1'))).toBe(true);
    expect(pushbackForbidsRetry(trailer('-250'))).toBe(true);
    expect(pushbackForbidsRetry(trailer('soon'))).toBe(true);
    expect(pushbackForbidsRetry(trailer('1.5'))).toBe(true);
    expect(pushbackForbidsRetry(trailer(''))).toBe(true);
    expect(pushbackForbidsRetry(trailer('0'))).toBe(false);
    expect(pushbackForbidsRetry(trailer('1500'))).toBe(false);
    expect(pushbackForbidsRetry(new Metadata())).toBe(false);
    expect(pushbackForbidsRetry(undefined)).toBe(false);
  });

  test('a MeshError is permanent only when made so; a status error is when its trailer says so', () => {
    expect(new MeshError(Code.RESOURCE_EXHAUSTED, 'quota').permanent).toBe(false);
    expect(new MeshError(Code.RESOURCE_EXHAUSTED, 'too big', { permanent: true }).permanent).toBe(true);
    const statusError = (metadata: unknown) =>
      Object.assign(new Error('8 RESOURCE_EXHAUSTED: x'), { code: Code.RESOURCE_EXHAUSTED, details: 'x', metadata });
    expect(MeshError.from(statusError(trailer('-1')))).toMatchObject({
      code: Code.RESOURCE_EXHAUSTED,
      permanent: true,
    });
    expect(MeshError.from(statusError(trailer('100'))).permanent).toBe(false);
    expect(MeshError.from(statusError({ 'grpc-retry-pushback-ms': '-1' })).permanent).toBe(false);
  });
});
