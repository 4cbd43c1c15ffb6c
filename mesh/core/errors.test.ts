import { Metadata } from '@grpc/grpc-js';
import { Code, isMeshError, MeshError } from './errors.js';

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
