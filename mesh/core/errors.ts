import type { Metadata } from '@grpc/grpc-js';
import { Code } from './code.js';

export { Code };

/** A gRPC status code, as a number of the `Code` enum. */
export type StatusCode = Code;

const BRAND = Symbol.for('agentmesh.MeshError');

/**
 * The trailer of gRPC's retry design (gRFC A6): how long a client should wait before retrying,
 * ms; a negative or non-integer value asks it not to retry at all. Our servers send -1 with a
 * permanent refusal (MeshError.permanent); grpc-js's own retries stop on a negative value too.
 */
export const RETRY_PUSHBACK_TRAILER = 'grpc-retry-pushback-ms';

/** What a permanent refusal sends as RETRY_PUSHBACK_TRAILER. */
export const DO_NOT_RETRY = '-1';

/** True when trailing metadata asks the client not to retry: a pushback that is not a non-negative integer (gRFC A6). */
export function pushbackForbidsRetry(metadata: Metadata | undefined): boolean {
  // Duck-typed: an error shaped like grpc-js's may carry something else as its metadata.
  if (typeof metadata?.get !== 'function') return false;
  const value = metadata.get(RETRY_PUSHBACK_TRAILER)[0];
  if (value === undefined) return false;
  return !/^\d+$/.test(value.toString().trim());
}

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
    options: { cause?: unknown; metadata?: Metadata; remote?: string; permanent?: boolean } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'MeshError';
    this.metadata = options.metadata;
    this.remote = options.remote;
    this.permanent = options.permanent ?? false;
  }

  /**
   * A refusal the same request will always get (over a size limit, a query too broad to answer):
   * retrying it only repeats the answer, and it says nothing about the health of the service that
   * gave it. Sent as the trailer `grpc-retry-pushback-ms: -1`; set on a call's error when the
   * answer carried a pushback that forbids retries (pushbackForbidsRetry).
   */
  readonly permanent: boolean;

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
    if (isGrpcStatusError(err))
      return new MeshError(err.code, err.details || Code[err.code], {
        cause: err,
        permanent: pushbackForbidsRetry(err.metadata),
      });
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
