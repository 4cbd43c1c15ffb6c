// Typed gRPC clients for mesh services: deadlines, metadata hooks (tokens) and channel credentials.
export { balancedAddress } from './channel-target.js';
export { createClient } from './client.js';
export type { CallOptions, MeshClient, MeshClientOptions, MetadataHook } from './client.js';
export { requestMessage } from './request-message.js';
