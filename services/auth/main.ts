// The authorization server of the local mesh: client credentials and token
// exchange over HTTPS with the mesh CA. In production the enterprise IdP
// takes its place by configuration (AGENTMESH_OAUTH_ISSUER).
import { z } from 'zod';
import { ConfigError, loadConfig, millis } from '../../mesh/config/index.js';
import { CertificateFiles } from '../../mesh/security/cert-files.js';
import { ClientDirectory, registryLifecycleCheck, SigningKeys, startAuthServer } from '../../mesh/security/auth-server/index.js';
import { Transport } from '../../mesh/security/transport.js';
import { FileSecretsProvider, secretsProviderFromEnv } from '../../mesh/security/secrets/index.js';
import { runService } from '../../mesh/server/index.js';

const authConfigSchema = z.object({
  AGENTMESH_TLS_CERT: z.string(),
  AGENTMESH_TLS_KEY: z.string(),
  AGENTMESH_TLS_CA: z.string(),
  /** Default: https://<host>:<port>. */
  AGENTMESH_AUTH_ISSUER: z.url({ error: 'must be a URL' }).optional(),
  /** JSON list of registered clients (no secrets in it: they live in the secrets provider). */
  AGENTMESH_AUTH_CLIENTS_FILE: z.string(),
  AGENTMESH_AUTH_SIGNING_KEYS_PATH: z.string().default('agentmesh/auth/signing-keys'),
  AGENTMESH_AUTH_TOKEN_TTL_S: z.coerce.number().int().min(30).max(3_600).default(300),
  /** How often the signing-key secret is re-read (rotation through Vault). */
  AGENTMESH_AUTH_KEY_REFRESH_MS: millis().default(30_000),
  /** When set, suspended and retired agents in this registry get no tokens. */
  AGENTMESH_REGISTRY_ADDRESS: z.string().optional(),
  AGENTMESH_TRUST_DOMAIN: z.string().default('agentmesh.local'),
});

await runService('agentmesh/auth', async ({ config, log }) => {
  const c = loadConfig(authConfigSchema);
  const secrets = await secretsProviderFromEnv(process.env, { logger: log });
  const keys = new SigningKeys(await secrets.read(c.AGENTMESH_AUTH_SIGNING_KEYS_PATH));
  const clients = (() => {
    try {
      return ClientDirectory.fromFile(c.AGENTMESH_AUTH_CLIENTS_FILE);
    } catch (err) {
      throw new ConfigError('AGENTMESH_AUTH_CLIENTS_FILE', (err as Error).message);
    }
  })();
  const reloadKeys = async () => {
    try {
      const before = keys.active.kid;
      keys.load(await secrets.read(c.AGENTMESH_AUTH_SIGNING_KEYS_PATH));
      if (keys.active.kid !== before) log.info({ kid: keys.active.kid }, 'signing key rotated');
    } catch (err) {
      log.error({ err: (err as Error).message }, 'signing keys not reloaded; keeping the current set');
    }
  };
  const unsubscribe = secrets instanceof FileSecretsProvider ? secrets.onChange(() => void reloadKeys()) : undefined;
  const refresh = setInterval(() => void reloadKeys(), c.AGENTMESH_AUTH_KEY_REFRESH_MS).unref();
  const tls = new CertificateFiles({ certFile: c.AGENTMESH_TLS_CERT, keyFile: c.AGENTMESH_TLS_KEY, caFile: c.AGENTMESH_TLS_CA }, 5_000, log);
  const paths = { certFile: c.AGENTMESH_TLS_CERT, keyFile: c.AGENTMESH_TLS_KEY, caFile: c.AGENTMESH_TLS_CA };
  const transport = c.AGENTMESH_REGISTRY_ADDRESS ? new Transport({ mode: 'mtls', trustDomain: c.AGENTMESH_TRUST_DOMAIN, tls: paths, log }) : undefined;
  let issuer = '';
  const isActive =
    c.AGENTMESH_REGISTRY_ADDRESS && transport
      ? registryLifecycleCheck({
          registryAddress: c.AGENTMESH_REGISTRY_ADDRESS,
          transport,
          trustDomain: c.AGENTMESH_TRUST_DOMAIN,
          keys,
          issuer: () => issuer,
          self: 'agentmesh/auth',
          log,
        })
      : undefined;
  const server = await startAuthServer({
    host: config.AGENTMESH_HOST,
    port: config.AGENTMESH_PORT,
    issuer: c.AGENTMESH_AUTH_ISSUER,
    tls,
    clients,
    keys,
    secrets,
    tokenTtlSec: c.AGENTMESH_AUTH_TOKEN_TTL_S,
    isActive,
    log,
  });
  issuer = server.issuer;
  return {
    async shutdown() {
      clearInterval(refresh);
      unsubscribe?.();
      await server.close();
      tls.close();
      transport?.close();
      await secrets.close();
      log.info('stopped');
    },
  };
});
