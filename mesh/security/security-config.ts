import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, loadConfig, millis } from '../config/index.js';
import type { Logger } from '../telemetry/index.js';
import { CertificateFilesError } from './cert-files.js';
import { httpRequest } from './https-client.js';
import { loadPolicy, type ServicePolicy } from './policy.js';
import type { SecretsProvider } from './secrets/provider.js';
import { TokenClient, type ClientAuthMethod } from './token-client.js';
import { DEFAULT_ALGORITHMS, TokenVerifier } from './token-verifier.js';
import { spiffeIdOfService } from './spiffe-id.js';
import { DEFAULT_TRUSTED_PROXIES, Transport } from './transport.js';

const csv = (fallback: string[]) =>
  z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .default(fallback);

/** The security settings every secured service reads. */
export const securityConfigSchema = z.object({
  /** This service's name, "namespace/name": its token audience and its OAuth2 client id by default. */
  AGENTMESH_SERVICE: z.string().regex(/^[a-z0-9-]+\/[a-z0-9-]+$/, 'must be namespace/name'),
  AGENTMESH_TRANSPORT: z
    .enum(['mtls', 'istio', 'insecure'], { error: 'must be mtls, istio or insecure' })
    .default('mtls'),
  AGENTMESH_TRUST_DOMAIN: z.string().default('agentmesh.local'),
  AGENTMESH_TLS_CERT: z.string().optional(),
  AGENTMESH_TLS_KEY: z.string().optional(),
  AGENTMESH_TLS_CA: z.string().optional(),
  /** How often certificate files are checked for rotation. */
  AGENTMESH_TLS_REFRESH_MS: millis().default(5_000),
  AGENTMESH_ISTIO_TRUSTED_PROXIES: csv(DEFAULT_TRUSTED_PROXIES),
  /** The authorization server's issuer URL (the local auth service, or the enterprise IdP). */
  AGENTMESH_OAUTH_ISSUER: z.url({ error: 'must be a URL' }),
  /** Default: from the issuer's RFC 8414 metadata. */
  AGENTMESH_OAUTH_JWKS_URL: z.url({ error: 'must be a URL' }).optional(),
  AGENTMESH_OAUTH_TOKEN_URL: z.url({ error: 'must be a URL' }).optional(),
  /** PEM file of the CA the IdP's TLS certificate chains to (default: AGENTMESH_TLS_CA). */
  AGENTMESH_OAUTH_CA: z.string().optional(),
  AGENTMESH_OAUTH_ALGORITHMS: csv(DEFAULT_ALGORITHMS),
  /** Required `typ` of access tokens; set empty-equivalent "none" for IdPs that emit "JWT". */
  AGENTMESH_OAUTH_TOKEN_TYPE: z.string().default('at+jwt'),
  AGENTMESH_OAUTH_CLOCK_SKEW_S: z.coerce.number().int().min(0).max(300).default(30),
  AGENTMESH_OAUTH_CLIENT_ID: z.string().optional(),
  AGENTMESH_OAUTH_CLIENT_AUTH: z.enum(['client_secret_basic', 'private_key_jwt']).default('client_secret_basic'),
  /** Secret path holding `client_secret` (or `private_key` for private_key_jwt). */
  AGENTMESH_OAUTH_CLIENT_SECRET_PATH: z.string().optional(),
  /** The authorization policy file (JSON) of this service; required unless the policy is given in code. */
  AGENTMESH_POLICY_FILE: z.string().optional(),
});

/** Parsed security settings. */
export type SecurityConfig = z.infer<typeof securityConfigSchema>;

/** Everything a secured service needs, built once at startup. */
export interface SecuritySetup {
  config: SecurityConfig;
  transport: Transport;
  verifier: TokenVerifier;
  tokens: TokenClient;
  policy: ServicePolicy;
  close(): void;
}

function readFileNamed(variable: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    throw new ConfigError(variable, `names a file that cannot be read (${file})`);
  }
}

/** Builds the transport, reporting unreadable or mismatched certificate files as configuration errors. */
function newTransport(options: ConstructorParameters<typeof Transport>[0]): Transport {
  try {
    return new Transport(options);
  } catch (err) {
    if (err instanceof CertificateFilesError) throw new ConfigError('AGENTMESH_TLS_CERT', err.message);
    throw err;
  }
}

/**
 * Where an issuer may publish its metadata, in the order tried: RFC 8414
 * (for an issuer with a path, the well-known segment goes before the path;
 * the appended form as well, which many servers use), then OpenID Connect
 * discovery (all that Entra ID publishes).
 */
export function metadataUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/$/, '');
  const base = `${url.origin}${path}`;
  return [
    ...(path ? [`${url.origin}/.well-known/oauth-authorization-server${path}`] : []),
    `${base}/.well-known/oauth-authorization-server`,
    `${base}/.well-known/openid-configuration`,
  ];
}

/**
 * The issuer's metadata (RFC 8414 or OpenID Connect discovery, whichever it
 * publishes), for the endpoints not configured explicitly. A document naming
 * another issuer is refused (RFC 8414 §3.3: no mix-up of issuers).
 */
async function issuerMetadata(
  issuer: string,
  ca: string | undefined,
): Promise<{ jwks_uri?: string; token_endpoint?: string }> {
  const misses: string[] = [];
  for (const url of metadataUrls(issuer)) {
    const answer = await httpRequest(url, { ca }).catch((err: Error) => {
      throw new ConfigError('AGENTMESH_OAUTH_ISSUER', `is unreachable (${err.message})`);
    });
    if (answer.status !== 200) {
      misses.push(`${new URL(url).pathname}: HTTP ${answer.status}`);
      continue;
    }
    const meta = JSON.parse(answer.body.toString()) as { issuer?: unknown; jwks_uri?: string; token_endpoint?: string };
    const same = (a: string) => a.replace(/\/$/, '');
    if (typeof meta.issuer !== 'string' || same(meta.issuer) !== same(issuer))
      throw new ConfigError(
        'AGENTMESH_OAUTH_ISSUER',
        `is ${issuer}, but its metadata at ${url} names the issuer ${String(meta.issuer)}`,
      );
    return meta;
  }
  throw new ConfigError(
    'AGENTMESH_OAUTH_ISSUER',
    `publishes no metadata (RFC 8414 or OpenID Connect discovery): ${misses.join('; ')}`,
  );
}

/** In mtls mode the certificate, key and CA files must be named. */
function requireTlsFiles(c: z.infer<typeof clientSecurityConfigSchema>): void {
  if (c.AGENTMESH_TRANSPORT !== 'mtls') return;
  for (const v of ['AGENTMESH_TLS_CERT', 'AGENTMESH_TLS_KEY', 'AGENTMESH_TLS_CA'] as const) {
    if (!c[v]) throw new ConfigError(v, 'is required in mtls transport mode');
  }
}

/** The settings of a workload that only calls secured services (no policy: it serves no gRPC). */
export const clientSecurityConfigSchema = securityConfigSchema.omit({ AGENTMESH_POLICY_FILE: true });

/** What a calling workload needs: its transport (identity), token client, and the issuer's endpoints. */
export interface ClientSecuritySetup {
  config: z.infer<typeof clientSecurityConfigSchema>;
  transport: Transport;
  tokens: TokenClient;
  jwksUrl: string;
  /** PEM of the CA the issuer's TLS certificate chains to. */
  ca: string | undefined;
  close(): void;
}

/**
 * Builds the transport and token client of a calling workload from the
 * environment and the secrets provider. Fails with a ConfigError naming the
 * variable, or a SecretError naming the secret path.
 */
export async function clientSecurityFromEnv(
  secrets: SecretsProvider,
  log: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ClientSecuritySetup> {
  const c = loadConfig(clientSecurityConfigSchema, env);
  requireTlsFiles(c);
  const ca = c.AGENTMESH_OAUTH_CA
    ? readFileNamed('AGENTMESH_OAUTH_CA', c.AGENTMESH_OAUTH_CA)
    : c.AGENTMESH_TLS_CA
      ? readFileNamed('AGENTMESH_TLS_CA', c.AGENTMESH_TLS_CA)
      : undefined;
  const meta =
    c.AGENTMESH_OAUTH_JWKS_URL && c.AGENTMESH_OAUTH_TOKEN_URL ? {} : await issuerMetadata(c.AGENTMESH_OAUTH_ISSUER, ca);
  const jwksUrl = c.AGENTMESH_OAUTH_JWKS_URL ?? meta.jwks_uri;
  const tokenUrl = c.AGENTMESH_OAUTH_TOKEN_URL ?? meta.token_endpoint;
  if (!jwksUrl) throw new ConfigError('AGENTMESH_OAUTH_JWKS_URL', 'is required (the issuer metadata has no jwks_uri)');
  if (!tokenUrl)
    throw new ConfigError('AGENTMESH_OAUTH_TOKEN_URL', 'is required (the issuer metadata has no token_endpoint)');

  const secretPath = c.AGENTMESH_OAUTH_CLIENT_SECRET_PATH ?? `agentmesh/clients/${c.AGENTMESH_SERVICE}`;
  const secret = await secrets.read(secretPath);
  const field = c.AGENTMESH_OAUTH_CLIENT_AUTH === 'client_secret_basic' ? 'client_secret' : 'private_key';
  const value = secret[field];
  if (!value) throw new ConfigError('AGENTMESH_OAUTH_CLIENT_SECRET_PATH', `secret ${secretPath} has no field ${field}`);
  const auth: ClientAuthMethod =
    c.AGENTMESH_OAUTH_CLIENT_AUTH === 'client_secret_basic'
      ? { method: 'client_secret_basic', secret: value }
      : { method: 'private_key_jwt', privateKeyPem: value };

  const transport = newTransport({
    mode: c.AGENTMESH_TRANSPORT,
    trustDomain: c.AGENTMESH_TRUST_DOMAIN,
    tls:
      c.AGENTMESH_TRANSPORT === 'mtls'
        ? {
            certFile: c.AGENTMESH_TLS_CERT!,
            keyFile: c.AGENTMESH_TLS_KEY!,
            caFile: c.AGENTMESH_TLS_CA!,
            refreshMs: c.AGENTMESH_TLS_REFRESH_MS,
          }
        : undefined,
    trustedProxies: c.AGENTMESH_ISTIO_TRUSTED_PROXIES,
    selfId: spiffeIdOfService(c.AGENTMESH_TRUST_DOMAIN, c.AGENTMESH_SERVICE),
    log,
  });
  const tokens = new TokenClient({ tokenUrl, clientId: c.AGENTMESH_OAUTH_CLIENT_ID ?? c.AGENTMESH_SERVICE, auth, ca });
  return { config: c, transport, tokens, jwksUrl, ca, close: () => transport.close() };
}

/** The policy of AGENTMESH_POLICY_FILE, which is then required. */
function policyFromEnv(c: SecurityConfig): ServicePolicy {
  if (!c.AGENTMESH_POLICY_FILE) throw new ConfigError('AGENTMESH_POLICY_FILE', 'is required');
  try {
    return loadPolicy(c.AGENTMESH_POLICY_FILE, c.AGENTMESH_TRUST_DOMAIN);
  } catch (err) {
    throw new ConfigError('AGENTMESH_POLICY_FILE', (err as Error).message);
  }
}

/**
 * Builds the transport, token verifier, token client and policy from the
 * environment and the secrets provider; a policy resolved by the caller (given
 * in code) replaces AGENTMESH_POLICY_FILE. Fails with a ConfigError naming the
 * variable, or a SecretError naming the secret path.
 */
export async function securityFromEnv(
  secrets: SecretsProvider,
  log: Logger,
  env: NodeJS.ProcessEnv = process.env,
  resolvedPolicy?: ServicePolicy,
): Promise<SecuritySetup> {
  const c = loadConfig(securityConfigSchema, env);
  requireTlsFiles(c);
  const policy = resolvedPolicy ?? policyFromEnv(c);
  if (policy.service !== c.AGENTMESH_SERVICE) {
    throw new ConfigError('AGENTMESH_POLICY_FILE', `protects ${policy.service}, not ${c.AGENTMESH_SERVICE}`);
  }
  const client = await clientSecurityFromEnv(secrets, log, env);
  const verifier = new TokenVerifier({
    issuer: c.AGENTMESH_OAUTH_ISSUER,
    audience: c.AGENTMESH_SERVICE,
    jwksUrl: client.jwksUrl,
    ca: client.ca,
    algorithms: c.AGENTMESH_OAUTH_ALGORITHMS,
    clockToleranceSec: c.AGENTMESH_OAUTH_CLOCK_SKEW_S,
    requiredTyp: c.AGENTMESH_OAUTH_TOKEN_TYPE === 'none' ? '' : c.AGENTMESH_OAUTH_TOKEN_TYPE,
  });
  return { config: c, transport: client.transport, verifier, tokens: client.tokens, policy, close: client.close };
}
