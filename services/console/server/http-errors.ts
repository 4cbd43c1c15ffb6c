import { Code, codeName, isMeshError } from '../../../mesh/index.js';

/** A refusal the console answers with: an HTTP status, a machine-readable code and a message for people. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The HTTP status that says what a gRPC status code says. */
const STATUS: Partial<Record<Code, number>> = {
  [Code.INVALID_ARGUMENT]: 400,
  [Code.OUT_OF_RANGE]: 400,
  [Code.UNAUTHENTICATED]: 401,
  [Code.PERMISSION_DENIED]: 403,
  [Code.NOT_FOUND]: 404,
  [Code.ALREADY_EXISTS]: 409,
  [Code.ABORTED]: 409,
  [Code.FAILED_PRECONDITION]: 409,
  [Code.RESOURCE_EXHAUSTED]: 429,
  [Code.UNAVAILABLE]: 503,
  [Code.DEADLINE_EXCEEDED]: 504,
};

/**
 * What the browser is told about a failure: a mesh service's answer keeps its
 * gRPC code name and message (they are written for callers); anything else is
 * a generic 500 whose detail only goes to the log.
 */
export function httpErrorOf(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (isMeshError(err) && err.code !== Code.INTERNAL && err.code !== Code.UNKNOWN) {
    return new HttpError(STATUS[err.code] ?? 502, codeName(err.code), err.message);
  }
  if (isMeshError(err) && err.remote)
    return new HttpError(
      502,
      codeName(err.code),
      `${err.remote.split('/')[1] ?? 'the service'} failed: internal error`,
    );
  return new HttpError(500, 'INTERNAL', 'internal error');
}
