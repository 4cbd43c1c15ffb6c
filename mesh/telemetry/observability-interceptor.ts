import { trace } from '@opentelemetry/api';
import type { Interceptor } from '../server/interceptor.js';
import { Code, codeName, MeshError } from '../server/errors.js';
import type { AuditLog } from './audit.js';
import type { MeshMetrics } from './metrics.js';

/** Audit kinds for refused calls, by status code. */
const REFUSALS: Partial<Record<Code, string>> = {
  [Code.UNAUTHENTICATED]: 'auth_failure',
  [Code.PERMISSION_DENIED]: 'authz_denied',
};

/**
 * The outermost interceptor of every service: per-method metrics (started,
 * handled by code, latency), one access log line, and an audit record for
 * every call, including authentication and authorization refusals.
 */
export function observabilityInterceptor(options: { service: string; metrics: MeshMetrics; audit?: AuditLog }): Interceptor {
  const { metrics, audit } = options;
  return async (ctx, next) => {
    const labels = { grpc_type: ctx.kind === 'unary' ? 'unary' : 'server_stream', grpc_service: ctx.service, grpc_method: ctx.method };
    metrics.grpcStarted.inc(labels);
    const stop = metrics.grpcLatency.startTimer(labels);
    let error: MeshError | undefined;
    try {
      await next();
    } catch (err) {
      error = ctx.signal.aborted ? (ctx.signal.reason as MeshError) : MeshError.from(err);
      throw err;
    } finally {
      const code = error?.code ?? (ctx.signal.aborted ? (ctx.signal.reason as MeshError).code : Code.OK);
      const seconds = stop();
      metrics.grpcHandled.inc({ ...labels, grpc_code: codeName(code) });
      const principal = ctx.principal;
      const traceId = trace.getActiveSpan()?.spanContext().traceId;
      ctx.log.info(
        { code: codeName(code), ms: Math.round(seconds * 1000 * 100) / 100, subject: principal?.subject, task_id: ctx.taskId },
        'call finished',
      );
      // The call completes only once its audit record is durable.
      await audit?.append({
        kind: REFUSALS[code] ?? 'call',
        service: options.service,
        method: ctx.path.slice(1),
        subject: principal?.subject,
        actors: principal?.actors,
        peer: ctx.identity?.spiffeId ?? ctx.peer,
        outcome: codeName(code),
        reason: code === Code.OK || code === Code.INTERNAL ? undefined : error?.message,
        task_id: ctx.taskId,
        trace_id: traceId,
      });
    }
  };
}
