// What every layer of the framework shares: the status codes and the one error type,
// the call context handed to handlers and interceptors, the verified caller, and the
// shapes of generated services. Nothing here imports another folder of mesh/.
export { Code } from './code.js';
export {
  codeName,
  DO_NOT_RETRY,
  isGrpcStatusError,
  isMeshError,
  MeshError,
  pushbackForbidsRetry,
  RETRY_PUSHBACK_TRAILER,
} from './errors.js';
export type { GrpcStatusError, StatusCode } from './errors.js';
export { callLogParts, createCallContext } from './context.js';
export type { CallContext, MethodKind, OwnedCallContext, ServerSurfaceCall } from './context.js';
export { composeInterceptors } from './interceptor.js';
export type { Interceptor } from './interceptor.js';
export type { IdentitySource, PeerIdentity, Principal } from './principal.js';
export { serviceNameOf } from './service-types.js';
export type {
  RequestOf,
  ResponseOf,
  ServerStreamHandler,
  ServiceDefinition,
  ServiceImplementation,
  UnaryHandler,
} from './service-types.js';
