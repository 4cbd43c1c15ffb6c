export { createServer, MeshServer } from './server.js';
export type { MeshServerOptions, ShutdownOptions } from './server.js';
export { DESCRIPTOR_SET_PATH } from './reflection.js';
