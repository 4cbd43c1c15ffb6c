import type {
  handleServerStreamingCall,
  handleUnaryCall,
  MethodDefinition,
  ServerErrorResponse,
  status as Status,
} from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { createCallContext, type MethodKind, type OwnedCallContext } from '../core/index.js';
import { Code, codeName, DO_NOT_RETRY, MeshError, RETRY_PUSHBACK_TRAILER } from '../core/index.js';
import type { Interceptor } from '../core/index.js';
import type { ServerStreamHandler, UnaryHandler } from '../core/index.js';
import { StreamWriter } from './stream-writer.js';

/** Dependency failures that mean the same to our caller: try again later. */
const PASS_THROUGH = new Set([Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED, Code.RESOURCE_EXHAUSTED, Code.CANCELLED]);

/** What the kernel needs to adapt one typed handler to grpc-js. */
export interface HandlerEnv {
  service: string;
  method: string;
  chain: Interceptor;
  log: Logger;
  /** Tracks in-flight calls so a forced shutdown can abort them. */
  track(ctx: OwnedCallContext): () => void;
}

/** What a call ended with: once it was cancelled or timed out, that is the outcome, whatever the handler threw. */
function endedWith(err: unknown, signal: AbortSignal): MeshError {
  return signal.aborted ? (signal.reason as MeshError) : MeshError.from(err);
}

/**
 * Another service's answer is about our request to it, not our caller's: keep only what is safe to
 * retry on. Its trailers (a pushback among them) are not passed on: they describe our request.
 */
function callerError(error: MeshError): MeshError {
  if (!error.remote) return error;
  const code = PASS_THROUGH.has(error.code) ? error.code : Code.INTERNAL;
  return new MeshError(code, `a dependency failed (${codeName(error.code)})`);
}

/** The error the caller is sent for what a call ended with (toStatus without its logging), e.g. for the call's span. */
export function sentError(err: unknown, signal: AbortSignal): MeshError {
  return callerError(endedWith(err, signal));
}

/**
 * Maps anything a call ended with to the status sent to the client. Unknown
 * errors become INTERNAL with a generic message; their detail is logged only.
 */
export function toStatus(err: unknown, ctx: OwnedCallContext): ServerErrorResponse {
  const outcome = endedWith(err, ctx.signal);
  if (outcome.code === Code.INTERNAL && outcome !== err) {
    ctx.log.error({ err, code: codeName(outcome.code) }, 'unexpected error in handler');
  }
  if (outcome.remote)
    ctx.log.warn(
      { dependency: outcome.remote, code: codeName(outcome.code), err: outcome.message },
      'a dependency failed',
    );
  const error = callerError(outcome);
  const metadata = ctx.trailer;
  if (error.metadata) metadata.merge(error.metadata);
  // gRFC A6: the same request will get the same refusal, so clients (ours, grpc-js's) do not retry it.
  // Only `permanent` decides: a pushback copied into an error's metadata is not passed on.
  metadata.remove(RETRY_PUSHBACK_TRAILER);
  if (error.permanent) metadata.set(RETRY_PUSHBACK_TRAILER, DO_NOT_RETRY);
  // Code and grpc-js's Status share their numbers.
  return Object.assign(new Error(error.message), {
    code: error.code as number as Status,
    details: error.message,
    metadata,
  });
}

function info(env: HandlerEnv, def: MethodDefinition<unknown, unknown>, kind: MethodKind) {
  return { service: env.service, method: env.method, path: def.path, kind };
}

/** Adapts a typed unary handler to grpc-js, running it inside the interceptor chain. */
export function adaptUnary(
  env: HandlerEnv,
  def: MethodDefinition<unknown, unknown>,
  handler: UnaryHandler<unknown, unknown>,
): handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    const ctx = createCallContext(call, info(env, def, 'unary'), env.log);
    const untrack = env.track(ctx);
    let response: unknown;
    env
      .chain(ctx, async () => {
        response = await handler(call.request, ctx);
      })
      .then(
        () => (ctx.signal.aborted ? callback(toStatus(undefined, ctx)) : callback(null, response, ctx.trailer)),
        (err: unknown) => callback(toStatus(err, ctx)),
      )
      .finally(() => {
        ctx.dispose();
        untrack();
      });
  };
}

/** Adapts a typed server-streaming handler to grpc-js, with backpressure (stream-writer.ts) and cancellation. */
export function adaptServerStream(
  env: HandlerEnv,
  def: MethodDefinition<unknown, unknown>,
  handler: ServerStreamHandler<unknown, unknown>,
): handleServerStreamingCall<unknown, unknown> {
  return (call) => {
    const ctx = createCallContext(call, info(env, def, 'server-stream'), env.log);
    const untrack = env.track(ctx);
    const writer = new StreamWriter(call, def.responseSerialize as (message: unknown) => Buffer, ctx.signal);
    env
      .chain(ctx, async () => {
        for await (const message of handler(call.request, ctx)) {
          if (ctx.signal.aborted) throw ctx.signal.reason;
          const full = writer.write(message);
          if (full) await full;
        }
      })
      .then(
        () => (ctx.signal.aborted ? call.emit('error', toStatus(undefined, ctx)) : call.end(ctx.trailer)),
        (err: unknown) => call.emit('error', toStatus(err, ctx)),
      )
      .finally(() => {
        ctx.dispose();
        untrack();
      });
  };
}
