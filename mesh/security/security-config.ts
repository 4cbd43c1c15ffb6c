import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, loadConfig, millis } from '../config/index.js';
import type { Logger } from '../telemetry/index.js';
import { CertificateFilesError } from './cert-files.js';
import { loadPolicy, type ServicePolicy } from './policy.js';
import type { SecretsProvider } from './secrets/provider.js';
import { audienceScheme, audienceSchemeProblem, parseExplicitAudiences } from './audiences.js';
import { PRESET_NAMES, PRESETS, type AudienceRequest } from './claim-mapping.js';
import { TokenClient, type ClientAuthMethod } from './token-client.js';
import { DEFAULT_ALGORITHMS, TokenVerifier, TrustedIssuers, type TokenCheck } from './token-verifier.js';
import { issuerMetadata, tokenType } from './issuer-metadata.js';
import { trustedIssuersFromFile } from './trust-file.js';
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
  /** What the issuer is (claim names, token `typ`, how audiences are asked for): agentmesh, rfc9068, entra, okta, keycloak. */
  AGENTMESH_OAUTH_PRESET: z
    .enum(PRESET_NAMES, { error: `must be one of ${PRESET_NAMES.join(', ')}` })
    .default('agentmesh'),
  /** The audience scheme: service, spiffe, or a template such as https://{name}.{namespace}.bank.example. */
  AGENTMESH_OAUTH_AUDIENCE: z.string().min(1).default('service'),
  /** Explicit audiences, `namespace/name=audience` pairs, winning over the scheme (for callers and the service itself). */
  AGENTMESH_OAUTH_AUDIENCES: z
    .string()
    .transform((v, ctx) => {
      const parsed = parseExplicitAudiences(v);
      if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
      return typeof parsed === 'string' ? {} : parsed;
    })
    .default({}),
  /** More audiences this service accepts (e.g. its Entra application id). */
  AGENTMESH_OAUTH_EXTRA_AUDIENCES: csv([]),
  /** How the audience is asked for (default: the preset's): audience, resource, default-scope, none. */
  AGENTMESH_OAUTH_REQUEST: z
    .string()
    .transform((v, ctx) => {
      const list = v
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
      const bad = list.find((x) => !['audience', 'resource', 'default-scope', 'none'].includes(x));
      if (bad || !list.length)
        ctx.addIssue({ code: 'custom', message: 'must list audience, resource, default-scope or none' });
      return list as AudienceRequest[];
    })
    .optional(),
  /** Required `typ` of access tokens (default: the preset's); "none" for IdPs that emit "JWT". */
  AGENTMESH_OAUTH_TOKEN_TYPE: z.string().optional(),
  /** Claim mapping overrides (default: the preset's), comma-separated claim names or dotted paths. */
  AGENTMESH_OAUTH_SUBJECT_CLAIMS: csv([]),
  AGENTMESH_OAUTH_SCOPE_CLAIMS: csv([]),
  AGENTMESH_OAUTH_ROLE_CLAIMS: csv([]),
  AGENTMESH_OAUTH_CLIENT_ID_CLAIMS: csv([]),
  /** JSON file of more issuers this service trusts (e.g. the enterprise IdP for people), each with its own settings. */
  AGENTMESH_OAUTH_TRUST_FILE: z.string().optional(),
  AGENTMESH_OAUTH_CLOCK_SKEW_S: z.coerce.number().int().min(0).max(300).default(30),
  AGENTMESH_OAUTH_CLIENT_ID: z.string().optional(),
  AGENTMESH_OAUTH_CLIENT_AUTH: z
    .enum(['client_secret_basic', 'private_key_jwt', 'federated'])
    .default('client_secret_basic'),
  /** Secret path holding `client_secret` (or `private_key` for private_key_jwt). */
  AGENTMESH_OAUTH_CLIENT_SECRET_PATH: z.string().optional(),
  /** For `federated`: the file of the workload's JWT credential (a Kubernetes projected service-account token). */
  AGENTMESH_OAUTH_CLIENT_ASSERTION_FILE: z.string().optional(),
  /** The authorization policy file (JSON) of this service; required unless the policy is given in code. */
  AGENTMESH_POLICY_FILE: z.string().optional(),
});

/** Parsed security settings. */
export type SecurityConfig = z.infer<typeof securityConfigSchema>;

/** Everything a secured service needs, built once at startup. */
export interface SecuritySetup {
  config: SecurityConfig;
  transport: Transport;
  /** The issuer(s) this service trusts: AGENTMESH_OAUTH_ISSUER, plus AGENTMESH_OAUTH_TRUST_FILE's. */
  verifier: TokenCheck;
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

/** How this workload authenticates at the token endpoint: a secret or private key from the secrets provider, or a federated credential file. */
async function clientAuth(
  c: z.infer<typeof clientSecurityConfigSchema>,
  secrets: SecretsProvider,
): Promise<ClientAuthMethod> {
  if (c.AGENTMESH_OAUTH_CLIENT_AUTH === 'federated') {
    if (!c.AGENTMESH_OAUTH_CLIENT_ASSERTION_FILE)
      throw new ConfigError(
        'AGENTMESH_OAUTH_CLIENT_ASSERTION_FILE',
        'is required when AGENTMESH_OAUTH_CLIENT_AUTH=federated',
      );
    readFileNamed('AGENTMESH_OAUTH_CLIENT_ASSERTION_FILE', c.AGENTMESH_OAUTH_CLIENT_ASSERTION_FILE);
    return { method: 'federated', assertionFile: c.AGENTMESH_OAUTH_CLIENT_ASSERTION_FILE };
  }
  const secretPath = c.AGENTMESH_OAUTH_CLIENT_SECRET_PATH ?? `agentmesh/clients/${c.AGENTMESH_SERVICE}`;
  const secret = await secrets.read(secretPath);
  const field = c.AGENTMESH_OAUTH_CLIENT_AUTH === 'client_secret_basic' ? 'client_secret' : 'private_key';
  const value = secret[field];
  if (!value) throw new ConfigError('AGENTMESH_OAUTH_CLIENT_SECRET_PATH', `secret ${secretPath} has no field ${field}`);
  return c.AGENTMESH_OAUTH_CLIENT_AUTH === 'client_secret_basic'
    ? { method: 'client_secret_basic', secret: value }
    : { method: 'private_key_jwt', privateKeyPem: value };
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

  const auth = await clientAuth(c, secrets);
  const request = c.AGENTMESH_OAUTH_REQUEST ?? PRESETS[c.AGENTMESH_OAUTH_PRESET].request;
  const problem = audienceSchemeProblem(c.AGENTMESH_OAUTH_AUDIENCE, request.includes('resource'));
  if (problem) throw new ConfigError('AGENTMESH_OAUTH_AUDIENCE', problem);

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
  const tokens = new TokenClient({
    tokenUrl,
    clientId: c.AGENTMESH_OAUTH_CLIENT_ID ?? c.AGENTMESH_SERVICE,
    auth,
    ca,
    audienceOf: audienceScheme(c.AGENTMESH_OAUTH_AUDIENCE, c.AGENTMESH_TRUST_DOMAIN, c.AGENTMESH_OAUTH_AUDIENCES),
    request,
  });
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
  const preset = PRESETS[c.AGENTMESH_OAUTH_PRESET];
  const own = (list: string[], fallback: string[]) => (list.length ? list : fallback);
  const primary = new TokenVerifier({
    issuer: c.AGENTMESH_OAUTH_ISSUER,
    audience: [client.tokens.audienceFor(c.AGENTMESH_SERVICE), ...c.AGENTMESH_OAUTH_EXTRA_AUDIENCES],
    claims: {
      subject: own(c.AGENTMESH_OAUTH_SUBJECT_CLAIMS, preset.claims.subject),
      scopes: own(c.AGENTMESH_OAUTH_SCOPE_CLAIMS, preset.claims.scopes),
      roles: own(c.AGENTMESH_OAUTH_ROLE_CLAIMS, preset.claims.roles),
      clientId: own(c.AGENTMESH_OAUTH_CLIENT_ID_CLAIMS, preset.claims.clientId),
      workload: preset.claims.workload ?? [],
    },
    jwksUrl: client.jwksUrl,
    ca: client.ca,
    algorithms: c.AGENTMESH_OAUTH_ALGORITHMS,
    clockToleranceSec: c.AGENTMESH_OAUTH_CLOCK_SKEW_S,
    requiredTyp: tokenType(c.AGENTMESH_OAUTH_TOKEN_TYPE ?? preset.tokenType),
    accessTokenClaims: preset.accessTokenClaims,
  });
  const others = c.AGENTMESH_OAUTH_TRUST_FILE
    ? await trustedIssuersFromFile(c.AGENTMESH_OAUTH_TRUST_FILE, {
        service: c.AGENTMESH_SERVICE,
        trustDomain: c.AGENTMESH_TRUST_DOMAIN,
        clockToleranceSec: c.AGENTMESH_OAUTH_CLOCK_SKEW_S,
        defaultCa: client.ca,
        primaryIssuer: c.AGENTMESH_OAUTH_ISSUER,
      })
    : [];
  const verifier = others.length ? new TrustedIssuers([primary, ...others]) : primary;
  return { config: c, transport: client.transport, verifier, tokens: client.tokens, policy, close: client.close };
}
