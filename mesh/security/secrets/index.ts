// Secrets for services: a provider interface, a file provider for the laptop mesh, Vault everywhere else.
export { secretsConfigSchema, secretsProviderFromEnv, vaultConfigSchema } from './config.js';
export type { SecretsFromEnvOptions } from './config.js';
export { FileSecretsProvider } from './file-provider.js';
export type { FileSecretsOptions, SecretsChangeListener } from './file-provider.js';
export { SecretError } from './provider.js';
export type { SecretsProvider } from './provider.js';
export { readRequired } from './read-required.js';
export { DEFAULT_K8S_JWT_PATH } from './vault-login.js';
export type { VaultAuth } from './vault-login.js';
export { VaultSecretsProvider } from './vault-provider.js';
export type { VaultReadOptions, VaultSecretsOptions } from './vault-provider.js';
