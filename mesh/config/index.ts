// Configuration parsed once at startup: env schemas, the ConfigError naming the bad variable, the
// kernel settings every service reads, and the local mesh's mesh.json description.
export { ConfigError, kernelConfigSchema, loadConfig, logLevel, millis, port } from './config.js';
export type { EnvSchema, KernelConfig } from './config.js';
export type { MeshFile, MeshServiceKind } from './mesh-file.js';
export { processAlive } from './process-alive.js';
