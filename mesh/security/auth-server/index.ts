export { startAuthServer } from './auth-server.js';
export type { AuthServerOptions, RunningAuthServer } from './auth-server.js';
export { ClientDirectory, parseClients } from './clients.js';
export type { OAuthClient } from './clients.js';
export { OAuthError } from './oauth-error.js';
export { SigningKeys } from './signing-keys.js';
export type { SigningKey } from './signing-keys.js';
export { registryLifecycleCheck } from './registry-lifecycle.js';
export type { RegistryLifecycleOptions } from './registry-lifecycle.js';
