export { runMeshService } from './run-mesh-service.js';
export { EXIT_CONFIG, runService } from './run-service.js';
export type { ServiceEnv, Stoppable } from './run-service.js';
export { serviceConfigSchema, ServiceKit } from './service-kit.js';
export type { Callee } from './service-kit.js';
export { joinLocalMesh } from './local-mesh-join.js';
export type { JoinOptions, LocalMeshMembership } from './local-mesh-join.js';
