export { createServer, MeshServer } from './server.js';
export type { MeshServerOptions, ShutdownOptions } from './server.js';
export { Code, codeName, isGrpcStatusError, isMeshError, MeshError } from './errors.js';
export type { GrpcStatusError, StatusCode } from './errors.js';
export type { CallContext, MethodKind } from './context.js';
export { composeInterceptors } from './interceptor.js';
export type { Interceptor } from './interceptor.js';
export { serviceNameOf } from './service-types.js';
export type {
  RequestOf,
  ResponseOf,
  ServerStreamHandler,
  ServiceDefinition,
  ServiceImplementation,
  UnaryHandler,
} from './service-types.js';
export { DESCRIPTOR_SET_PATH } from './reflection.js';
export { EXIT_CONFIG, runService } from './run.js';
export type { ServiceEnv, Stoppable } from './run.js';
