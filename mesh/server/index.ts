// The gRPC server kernel: interceptor chain, health, reflection, graceful shutdown.
export { createServer, MeshServer } from './server.js';
export type { MeshServerOptions, ShutdownOptions } from './server.js';
export { DESCRIPTOR_SET_PATH } from './reflection.js';
