import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ConfigError, loadConfig } from '../../config/index.js';
import type { Logger } from '../../telemetry/index.js';
import { FileSecretsProvider } from './file-provider.js';
import { VaultSecretsProvider } from './vault-provider.js';
import type { VaultAuth } from './vault-login.js';

/** Which provider, and where the local file is. */
export const secretsConfigSchema = z.object({
  /** "file" for the laptop mesh, "vault" everywhere else. */
  AGENTMESH_SECRETS: z.enum(['file', 'vault'], { error: 'must be file or vault' }).default('file'),
  /** The JSON secrets file of the file provider (mode 600). */
  AGENTMESH_SECRETS_FILE: z.string().default('.agentmesh/secrets.json'),
});

/** Vault connection settings, read when AGENTMESH_SECRETS=vault. */
export const vaultConfigSchema = z.object({
  VAULT_ADDR: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
  VAULT_NAMESPACE: z.string().optional(),
  /** Path of a PEM file with the CA that signed Vault's certificate. */
  VAULT_CACERT: z.string().optional(),
  VAULT_KV_MOUNT: z.string().default('secret'),
  VAULT_AUTH: z
    .enum(['token', 'approle', 'kubernetes'], { error: 'must be token, approle or kubernetes' })
    .default('token'),
  /** Where the AppRole or Kubernetes auth method is mounted, when not at its default path. */
  VAULT_AUTH_MOUNT: z.string().optional(),
});

/** The credentials each VAULT_AUTH method needs; parsed only for the chosen one, so each missing one is named. */
const authSchemas = {
  token: z.object({ VAULT_TOKEN: z.string() }),
  approle: z.object({ VAULT_ROLE_ID: z.string(), VAULT_SECRET_ID: z.string() }),
  kubernetes: z.object({ VAULT_K8S_ROLE: z.string(), VAULT_K8S_JWT_PATH: z.string().optional() }),
};

function vaultAuthFromEnv(
  method: keyof typeof authSchemas,
  mount: string | undefined,
  env: NodeJS.ProcessEnv,
): VaultAuth {
  const at = mount ? { mount } : {};
  switch (method) {
    case 'token':
      return { method, token: loadConfig(authSchemas.token, env).VAULT_TOKEN };
    case 'approle': {
      const c = loadConfig(authSchemas.approle, env);
      return { method, roleId: c.VAULT_ROLE_ID, secretId: c.VAULT_SECRET_ID, ...at };
    }
    case 'kubernetes': {
      const c = loadConfig(authSchemas.kubernetes, env);
      return {
        method,
        role: c.VAULT_K8S_ROLE,
        ...(c.VAULT_K8S_JWT_PATH ? { jwtPath: c.VAULT_K8S_JWT_PATH } : {}),
        ...at,
      };
    }
  }
}

/** Options for secretsProviderFromEnv. */
export interface SecretsFromEnvOptions {
  /** Receives the provider's login, renewal and file-change events. */
  logger?: Logger;
  /** Poll interval of the file provider (default 1000 ms). */
  pollIntervalMs?: number;
}

/**
 * Builds and starts the provider the environment asks for. Invalid settings
 * throw a ConfigError naming the variable; an unusable file or a failed
 * Vault login throws a SecretError. Neither ever contains a credential.
 */
export async function secretsProviderFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  options: SecretsFromEnvOptions = {},
): Promise<FileSecretsProvider | VaultSecretsProvider> {
  const selection = loadConfig(secretsConfigSchema, env);
  if (selection.AGENTMESH_SECRETS === 'file') {
    const provider = new FileSecretsProvider(selection.AGENTMESH_SECRETS_FILE, options);
    await provider.start();
    return provider;
  }
  const c = loadConfig(vaultConfigSchema, env);
  const auth = vaultAuthFromEnv(c.VAULT_AUTH, c.VAULT_AUTH_MOUNT, env);
  let caCert: string | undefined;
  if (c.VAULT_CACERT) {
    caCert = await readFile(c.VAULT_CACERT, 'utf8').catch(() => {
      throw new ConfigError('VAULT_CACERT', 'names a file that cannot be read');
    });
  }
  const provider = new VaultSecretsProvider({
    address: c.VAULT_ADDR,
    kvMount: c.VAULT_KV_MOUNT,
    ...(c.VAULT_NAMESPACE ? { namespace: c.VAULT_NAMESPACE } : {}),
    ...(caCert ? { caCert } : {}),
    auth,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  await provider.start();
  return provider;
}
