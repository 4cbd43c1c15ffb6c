import type { Metadata } from '@grpc/grpc-js';
import { Code } from './code.js';

export { Code };

/** A gRPC status code, as a number of the `Code` enum. */
export type StatusCode = Code;

const BRAND = Symbol.for('agentmesh.MeshError');

/**
 * The one error type of agentmesh: a gRPC status code, a message safe to send
 * to the caller, optional trailing metadata, and a `cause` that is logged but
 * never sent on the wire.
 */
export class MeshError extends Error {
  readonly [BRAND] = true;

  constructor(
    readonly code: Code,
    message: string,
    options: { cause?: unknown; metadata?: Metadata; remote?: string } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'MeshError';
    this.metadata = options.metadata;
    this.remote = options.remote;
  }

  /**
   * Set when the error is another service's answer (an outgoing call, a token
   * endpoint): the boundary does not pass such codes and messages through to
   * this service's caller, who asked something else.
   */
  readonly remote: string | undefined;

  /** Trailing metadata sent with the status (e.g. retry hints). */
  readonly metadata: Metadata | undefined;

  /** Normalises anything thrown into a MeshError; unknown errors become INTERNAL. */
  static from(err: unknown): MeshError {
    if (isMeshError(err)) return err;
    if (isGrpcStatusError(err)) return new MeshError(err.code, err.details || Code[err.code], { cause: err });
    return new MeshError(Code.INTERNAL, 'internal error', { cause: err });
  }
}

/** True for a MeshError, also across duplicate copies of this module. */
export function isMeshError(err: unknown): err is MeshError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[BRAND] === true;
}

/** A status error as grpc-js clients produce it (ServiceError). */
export interface GrpcStatusError extends Error {
  code: Code;
  details: string;
  metadata?: Metadata;
}

/** True for a grpc-js ServiceError (has a numeric status code and details). */
export function isGrpcStatusError(err: unknown): err is GrpcStatusError {
  return (
    err instanceof Error &&
    typeof (err as Partial<GrpcStatusError>).code === 'number' &&
    typeof (err as Partial<GrpcStatusError>).details === 'string'
  );
}

/** The status name of a code, e.g. "NOT_FOUND". */
export function codeName(code: Code): string {
  return Code[code] ?? `CODE_${code}`;
}
