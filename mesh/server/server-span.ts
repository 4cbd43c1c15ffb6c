import { context } from '@opentelemetry/api';
import type { Interceptor } from '../core/index.js';
import { endGrpcSpan, startServerSpan } from '../telemetry/index.js';
import { sentError } from './handlers.js';

/**
 * The outermost link of a gRPC call's chain when tracing is on: the call's SERVER span,
 * child of the caller's `traceparent`, active while the interceptors and the handler run
 * (so their logs, audit records, task spans and outgoing calls join the caller's trace), and
 * ended with the status the caller is sent. One context.with per call: it replaces
 * OpenTelemetry's GrpcInstrumentation, which also bound the call's emitters and callbacks.
 */
export const serverSpan: Interceptor = async (ctx, next) => {
  const started = startServerSpan(ctx.path, ctx.metadata);
  if (!started) return next();
  let failure: unknown;
  let failed = false;
  try {
    await context.with(started.context, next);
  } catch (err) {
    failed = true;
    failure = err;
    throw err;
  } finally {
    if (failed || ctx.signal.aborted) {
      const error = sentError(failure, ctx.signal);
      endGrpcSpan(started.span, error.code, { name: 'Error', message: error.message });
    } else endGrpcSpan(started.span, 0);
  }
};
