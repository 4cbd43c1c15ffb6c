// Configuration parsed once at startup: env schemas, ConfigError naming the variable, kernel settings, mesh.json.
export { ConfigError, kernelConfigSchema, loadConfig, logLevel, millis, port } from './config.js';
export type { EnvSchema, KernelConfig } from './config.js';
export type { MeshFile, MeshReplica, MeshServiceKind, PeopleIssuer } from './mesh-file.js';
export { processAlive } from './process-alive.js';
export { writePrivateFile } from './private-file.js';
