export { ConfigError, kernelConfigSchema, loadConfig, logLevel, millis, port } from './config.js';
export type { EnvSchema, KernelConfig } from './config.js';
