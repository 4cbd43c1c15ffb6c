// Observability: redacting pino logs, Prometheus metrics and admin port, audit trail, tracing, the interceptor.
export { startAdminServer } from './admin-server.js';
export type { AdminServer, Readiness } from './admin-server.js';
export { AuditLog, verifyAuditFile } from './audit.js';
export type { AuditEvent, AuditLogOptions, AuditRecord, AuditVerification } from './audit.js';
export { METHOD_PATTERN, READ_ONLY_METHODS, readOnlyMethods } from './audit-durability.js';
export { createLogger, safeChild, SECRET_PATHS } from './logger.js';
export type { Logger, LoggerOptions } from './logger.js';
export { MeshMetrics } from './metrics.js';
export { observabilityInterceptor } from './observability-interceptor.js';
export { ibanValid, isSensitiveKey, luhnValid, redactDeep, redactPii } from './pii.js';
export { endGrpcSpan, startClientSpan, startServerSpan, traceHeaders } from './trace-grpc.js';
export { initTracing, JsonLinesSpanExporter, meshTracer, shutdownTracing } from './tracing.js';
