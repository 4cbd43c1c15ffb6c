export { createClient } from './client.js';
export type { CallOptions, MeshClient, MeshClientOptions, MetadataHook } from './client.js';
