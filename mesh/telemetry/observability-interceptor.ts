import { trace } from '@opentelemetry/api';
import type { Interceptor } from '../core/index.js';
import { callLogParts, Code, codeName, MeshError } from '../core/index.js';
import { accessLogLine } from './access-log.js';
import type { AuditEvent, AuditLog } from './audit.js';
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
 *
 * A call completes once its audit record is durable, except, when the audit
 * log has a window (AGENTMESH_AUDIT_READ_WINDOW_MS), a call to a method
 * `readOnly` names that was not refused: it is answered at once and its record
 * is flushed within the window.
 */
export function observabilityInterceptor(options: {
  service: string;
  metrics: MeshMetrics;
  audit?: AuditLog;
  /** Whether a method ("pkg.Service/Method") changes no state (default: none). */
  readOnly?: (method: string) => boolean;
}): Interceptor {
  const { metrics, audit } = options;
  const windowed = audit && audit.windowMs > 0 ? options.readOnly : undefined;
  // The metric children of each method (and code), made once: labelling a metric per call costs a label-set hash.
  type Children = {
    started: { inc(): void };
    latency: { observe(seconds: number): void };
    handled: (code: string) => { inc(): void };
  };
  const perMethod = new Map<string, Children>();
  const children = (ctx: { path: string; kind: string; service: string; method: string }): Children => {
    let c = perMethod.get(ctx.path);
    if (!c) {
      const labels = {
        grpc_type: ctx.kind === 'unary' ? 'unary' : 'server_stream',
        grpc_service: ctx.service,
        grpc_method: ctx.method,
      };
      const byCode = new Map<string, { inc(): void }>();
      c = {
        started: metrics.grpcStarted.labels(labels),
        latency: metrics.grpcLatency.labels(labels),
        handled: (code) =>
          byCode.get(code) ?? byCode.set(code, metrics.grpcHandled.labels({ ...labels, grpc_code: code })).get(code)!,
      };
      perMethod.set(ctx.path, c);
    }
    return c;
  };
  return async (ctx, next) => {
    const m = children(ctx);
    m.started.inc();
    const began = performance.now();
    let error: MeshError | undefined;
    try {
      await next();
    } catch (err) {
      error = ctx.signal.aborted ? (ctx.signal.reason as MeshError) : MeshError.from(err);
      throw err;
    } finally {
      const code = error?.code ?? (ctx.signal.aborted ? (ctx.signal.reason as MeshError).code : Code.OK);
      const seconds = (performance.now() - began) / 1000;
      m.latency.observe(seconds);
      m.handled(codeName(code)).inc();
      const principal = ctx.principal;
      const span = trace.getActiveSpan()?.spanContext();
      const name = codeName(code);
      // The facts are read once for both records; the redaction they need is done once too (pii.ts remembers).
      const { log, bindings } = callLogParts(ctx);
      accessLogLine(
        log,
        { code: name, ms: Math.round(seconds * 1000 * 100) / 100, subject: principal?.subject, task_id: ctx.taskId },
        span && { trace_id: span.traceId, span_id: span.spanId },
        bindings,
      );
      if (audit) {
        const method = ctx.path.slice(1);
        const refusal = REFUSALS[code];
        const event: AuditEvent = {
          kind: refusal ?? 'call',
          service: options.service,
          method,
          subject: principal?.subject,
          actors: principal?.actors,
          peer: ctx.identity?.spiffeId ?? ctx.peer,
          outcome: name,
          reason: code === Code.OK || code === Code.INTERNAL ? undefined : error?.message,
          task_id: ctx.taskId,
          trace_id: span?.traceId,
        };
        if (!refusal && !ctx.changedState && windowed?.(method)) audit.record(event);
        // Otherwise the call completes only once its audit record is durable.
        else await audit.append(event);
      }
    }
  };
}
