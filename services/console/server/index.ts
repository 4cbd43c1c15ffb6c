export { ConsoleApi, SESSION_COOKIE } from './console-api.js';
export type { ConsoleApiOptions } from './console-api.js';
export { consoleConfigSchema } from './console-config.js';
export type { ConsoleConfig } from './console-config.js';
export { startConsole } from './console-service.js';
export type { ConsoleStartOptions } from './console-service.js';
export { scopeFromQuery } from './discover-query.js';
export { HttpError, httpErrorOf } from './http-errors.js';
export { readJson, sendJson, stringField } from './http-io.js';
export { startHttpsServer } from './https-server.js';
export type { HttpsServer } from './https-server.js';
export { parsePrometheus, summarizeMetrics } from './metrics-summary.js';
export type { MetricsSummary, Sample } from './metrics-summary.js';
export { meshStatus, readMeshFile } from './operations.js';
export type { ServiceStatus } from './operations.js';
export { SessionStore } from './sessions.js';
export type { Session, SessionLimits } from './sessions.js';
export { StaticFiles } from './static-files.js';
export { bridgeTaskEvents } from './task-events.js';
export { linesOfTrace } from './trace-logs.js';
export type { LogLine } from './trace-logs.js';
export { UserCalls } from './user-calls.js';
export type { AgentHandle, UserCallsOptions } from './user-calls.js';
export {
  checkCsrfToken,
  checkSameOrigin,
  CONTENT_SECURITY_POLICY,
  cookieOf,
  sameSecret,
  sessionCookie,
  setSecurityHeaders,
} from './web-security.js';
