// The authorization server of the local mesh: client credentials and token
// exchange over HTTPS with the mesh CA, or plain HTTP to its own sidecar in
// istio transport mode (Istio's mTLS protects it). In production the
// enterprise IdP takes its place by configuration (AGENTMESH_OAUTH_ISSUER).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { readFileSync } from 'node:fs';
import {
  audienceScheme,
  audienceSchemeProblem,
  ConfigError,
  loadConfig,
  millis,
  parseExplicitAudiences,
} from '../../mesh/index.js';
import { CertificateFiles } from '../../mesh/index.js';
import {
  ExternalSubjects,
  loadClientsFile,
  registryLifecycleCheck,
  SigningKeys,
  startAuthServer,
  UserDirectory,
} from './server/index.js';
import { Transport } from '../../mesh/index.js';
import { FileSecretsProvider, secretsProviderFromEnv } from '../../mesh/index.js';
import { runService } from '../../mesh/index.js';
import { AuditLog } from '../../mesh/index.js';

const authConfigSchema = z.object({
  /** mtls: HTTPS with the mesh CA; istio: plain HTTP behind the sidecar, which terminates mTLS. */
  AGENTMESH_TRANSPORT: z.enum(['mtls', 'istio'], { error: 'must be mtls or istio' }).default('mtls'),
  /** Required in mtls mode. */
  AGENTMESH_TLS_CERT: z.string().optional(),
  AGENTMESH_TLS_KEY: z.string().optional(),
  AGENTMESH_TLS_CA: z.string().optional(),
  /** Default: https://<host>:<port> (http:// in istio mode). */
  AGENTMESH_AUTH_ISSUER: z.url({ error: 'must be a URL' }).optional(),
  /** JSON list of registered clients (no secrets in it: they live in the secrets provider). */
  AGENTMESH_AUTH_CLIENTS_FILE: z.string(),
  /** People of the dev login and their roles (scopes); unset: a person gets whatever the client may obtain. */
  AGENTMESH_AUTH_USERS_FILE: z.string().optional(),
  AGENTMESH_AUTH_SIGNING_KEYS_PATH: z.string().default('agentmesh/auth/signing-keys'),
  AGENTMESH_AUTH_TOKEN_TTL_S: z.coerce.number().int().min(30).max(3_600).default(300),
  /** How often the signing-key secret is re-read (rotation through Vault). */
  AGENTMESH_AUTH_KEY_REFRESH_MS: millis().default(30_000),
  /** When set, suspended and retired agents in this registry get no tokens. */
  AGENTMESH_REGISTRY_ADDRESS: z.string().optional(),
  AGENTMESH_TRUST_DOMAIN: z.string().default('agentmesh.local'),
  /** Where the audit trail (every token issued or refused) is kept. */
  AGENTMESH_DATA_DIR: z.string().default('.agentmesh/data/agentmesh-auth'),
  /** The audience scheme of issued tokens, as services read it: service, spiffe or a template. */
  AGENTMESH_OAUTH_AUDIENCE: z.string().min(1).default('service'),
  /** Explicit `namespace/name=audience` pairs, winning over the scheme. */
  AGENTMESH_OAUTH_AUDIENCES: z.string().default(''),
  /** Enterprise identity providers whose people's tokens may be exchanged (on-behalf-of). */
  AGENTMESH_OAUTH_TRUST_FILE: z.string().optional(),
  /** PEM CA of the trusted and federated issuers' TLS certificates (default: AGENTMESH_TLS_CA). */
  AGENTMESH_OAUTH_CA: z.string().optional(),
  AGENTMESH_OAUTH_CLOCK_SKEW_S: z.coerce.number().int().min(0).max(300).default(30),
});

/** The certificate files, required in mtls mode and unused behind a sidecar. */
function tlsPaths(c: z.infer<typeof authConfigSchema>) {
  if (c.AGENTMESH_TRANSPORT === 'istio') return undefined;
  for (const v of ['AGENTMESH_TLS_CERT', 'AGENTMESH_TLS_KEY', 'AGENTMESH_TLS_CA'] as const) {
    if (!c[v]) throw new ConfigError(v, 'is required in mtls transport mode');
  }
  return { certFile: c.AGENTMESH_TLS_CERT!, keyFile: c.AGENTMESH_TLS_KEY!, caFile: c.AGENTMESH_TLS_CA! };
}

/** The audience tokens for a service carry, as the services themselves are configured. */
function audienceOfFromEnv(c: z.infer<typeof authConfigSchema>) {
  const problem = audienceSchemeProblem(c.AGENTMESH_OAUTH_AUDIENCE, false);
  if (problem) throw new ConfigError('AGENTMESH_OAUTH_AUDIENCE', problem);
  const explicit = parseExplicitAudiences(c.AGENTMESH_OAUTH_AUDIENCES);
  if (typeof explicit === 'string') throw new ConfigError('AGENTMESH_OAUTH_AUDIENCES', explicit);
  return audienceScheme(c.AGENTMESH_OAUTH_AUDIENCE, c.AGENTMESH_TRUST_DOMAIN, explicit);
}

/** The CA of other issuers' TLS certificates: AGENTMESH_OAUTH_CA, else the mesh CA (absent behind a sidecar). */
function issuersCa(c: z.infer<typeof authConfigSchema>): string | undefined {
  const [variable, file] = c.AGENTMESH_OAUTH_CA
    ? ['AGENTMESH_OAUTH_CA', c.AGENTMESH_OAUTH_CA]
    : ['AGENTMESH_TLS_CA', c.AGENTMESH_TLS_CA];
  if (!file) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch {
    throw new ConfigError(variable, `names a file that cannot be read (${file})`);
  }
}

await runService('agentmesh/auth', async ({ config, log }) => {
  const c = loadConfig(authConfigSchema);
  const audienceOf = audienceOfFromEnv(c);
  const ca = issuersCa(c);
  const external = c.AGENTMESH_OAUTH_TRUST_FILE
    ? await ExternalSubjects.load(c.AGENTMESH_OAUTH_TRUST_FILE, {
        trustDomain: c.AGENTMESH_TRUST_DOMAIN,
        clockToleranceSec: c.AGENTMESH_OAUTH_CLOCK_SKEW_S,
        defaultCa: ca,
        primaryIssuer: c.AGENTMESH_AUTH_ISSUER ?? '',
      })
    : undefined;
  const secrets = await secretsProviderFromEnv(process.env, { logger: log });
  const keys = new SigningKeys(await secrets.read(c.AGENTMESH_AUTH_SIGNING_KEYS_PATH));
  // One read for the list and the watcher's starting point: a write in between is not missed.
  const { clients, stop: stopWatchingClients } = (() => {
    try {
      return loadClientsFile(c.AGENTMESH_AUTH_CLIENTS_FILE, log);
    } catch (err) {
      throw new ConfigError('AGENTMESH_AUTH_CLIENTS_FILE', (err as Error).message);
    }
  })();
  const users = (() => {
    try {
      return c.AGENTMESH_AUTH_USERS_FILE ? UserDirectory.fromFile(c.AGENTMESH_AUTH_USERS_FILE) : undefined;
    } catch (err) {
      throw new ConfigError('AGENTMESH_AUTH_USERS_FILE', (err as Error).message);
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
  const paths = tlsPaths(c);
  const tls = paths ? new CertificateFiles(paths, 5_000, log) : undefined;
  const transport = c.AGENTMESH_REGISTRY_ADDRESS
    ? new Transport({ mode: c.AGENTMESH_TRANSPORT, trustDomain: c.AGENTMESH_TRUST_DOMAIN, tls: paths, log })
    : undefined;
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
  mkdirSync(c.AGENTMESH_DATA_DIR, { recursive: true, mode: 0o700 });
  const audit = new AuditLog(join(c.AGENTMESH_DATA_DIR, 'audit.jsonl'));
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
    users,
    log,
    audit,
    audienceOf,
    external,
    federatedCa: ca,
    clockToleranceSec: c.AGENTMESH_OAUTH_CLOCK_SKEW_S,
  });
  issuer = server.issuer;
  return {
    async shutdown() {
      clearInterval(refresh);
      unsubscribe?.();
      stopWatchingClients();
      await server.close();
      await audit.close();
      tls?.close();
      transport?.close();
      await secrets.close();
      log.info('stopped');
    },
  };
});
