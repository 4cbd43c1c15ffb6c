export { runMeshService } from './run-mesh-service.js';
export { serviceConfigSchema, ServiceKit } from './service-kit.js';
export type { Callee } from './service-kit.js';
