// The service kit: a secured, observable service process, its options in code, and graceful shutdown.
export { runMeshService } from './run-mesh-service.js';
export { configOrExit, EXIT_CONFIG, runService } from './run-service.js';
export type { ServiceEnv, Stoppable } from './run-service.js';
export { serviceConfigSchema, ServiceKit } from './service-kit.js';
export type { Callee } from './service-kit.js';
export { compileServiceOptions, parseOptions } from './service-options.js';
export type { CompiledServiceOptions, PolicyDocument, ServiceOptions } from './service-options.js';
export { joinLocalMesh } from './local-mesh-join.js';
export type { JoinOptions, LocalMeshMembership } from './local-mesh-join.js';
