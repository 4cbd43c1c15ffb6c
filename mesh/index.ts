// The public face of the agentmesh framework (the package's "agentmesh" export).
// Each folder's index.ts says what it offers; nothing else of mesh/ is public.
export * from './core/index.js';
export * from './config/index.js';
export * from './telemetry/index.js';
export * from './client/index.js';
export * from './security/index.js';
export * from './server/index.js';
export * from './discovery/index.js';
export * from './state/index.js';
export * from './service/index.js';
export * from './runtime/index.js';
