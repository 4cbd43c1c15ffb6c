import { Metadata } from '@grpc/grpc-js';
import { encodeGrpcStatusDetails, GRPC_STATUS_DETAILS_BIN } from '@a2a-js/sdk/errors/grpc';
import { Code, MeshError } from '../../core/index.js';

/** The A2A errors (spec §3.3.2) this agent answers with, and their gRPC codes (spec §10.6, as the official SDK maps them). */
const A2A_CODES = {
  TASK_NOT_FOUND: Code.NOT_FOUND,
  TASK_NOT_CANCELABLE: Code.FAILED_PRECONDITION,
  PUSH_NOTIFICATION_NOT_SUPPORTED: Code.FAILED_PRECONDITION,
  UNSUPPORTED_OPERATION: Code.FAILED_PRECONDITION,
  CONTENT_TYPE_NOT_SUPPORTED: Code.INVALID_ARGUMENT,
  VERSION_NOT_SUPPORTED: Code.FAILED_PRECONDITION,
  INVALID_PARAMS: Code.INVALID_ARGUMENT,
} as const;

/** The reason of an A2A error (its google.rpc.ErrorInfo reason, domain a2a-protocol.org). */
export type A2aReason = keyof typeof A2A_CODES;

/**
 * An A2A error: the spec's gRPC status, and google.rpc.Status with an
 * ErrorInfo (domain a2a-protocol.org) in grpc-status-details-bin, so A2A
 * clients (the official SDK's fromGrpcError) recognise it.
 */
export function a2aError(reason: A2aReason, message: string): MeshError {
  const code = A2A_CODES[reason];
  const metadata = new Metadata();
  metadata.set(GRPC_STATUS_DETAILS_BIN, encodeGrpcStatusDetails(code, message, reason));
  return new MeshError(code, message, { metadata });
}

/**
 * The A2A form of an error the agent's runtime raised: a task that is
 * absent or not the caller's is TASK_NOT_FOUND, a bad argument INVALID_PARAMS;
 * anything else (PERMISSION_DENIED, RESOURCE_EXHAUSTED, ABORTED...) keeps its
 * status, as the spec leaves those to the transport.
 */
export function toA2aError(err: unknown): unknown {
  const e = MeshError.from(err);
  if (e.metadata?.get(GRPC_STATUS_DETAILS_BIN).length || e.remote) return err;
  if (e.code === Code.NOT_FOUND) return a2aError('TASK_NOT_FOUND', e.message);
  if (e.code === Code.INVALID_ARGUMENT) return a2aError('INVALID_PARAMS', e.message);
  return err;
}
