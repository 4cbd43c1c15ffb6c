import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../config/index.js';
import { audienceScheme, audienceSchemeProblem } from './audiences.js';
import { PRESET_NAMES, PRESETS } from './claim-mapping.js';
import { issuerMetadata, tokenType } from './issuer-metadata.js';
import { DEFAULT_ALGORITHMS, TokenVerifier } from './token-verifier.js';

const VARIABLE = 'AGENTMESH_OAUTH_TRUST_FILE';

const names = z.array(z.string().min(1)).min(1);

/** One more issuer a service trusts, with its own audiences and claim mapping (docs/security.md). */
const trustedIssuerSchema = z.strictObject({
  issuer: z.url(),
  /** Claim names, token `typ` and audience request of a known kind of issuer. */
  preset: z.enum(PRESET_NAMES).default('rfc9068'),
  /** The audience scheme for this issuer's tokens (service, spiffe or a template). */
  audience: z.string().min(1).default('service'),
  extraAudiences: z.array(z.string().min(1)).default([]),
  claims: z.strictObject({ subject: names, scopes: names, roles: names, clientId: names }).partial().default({}),
  /** Required `typ`, "none" for none (default: the preset's). */
  tokenType: z.string().optional(),
  algorithms: names.default(DEFAULT_ALGORITHMS),
  /** Default: from the issuer's metadata. */
  jwksUrl: z.url().optional(),
  /** PEM file of the CA of the issuer's TLS certificate (default: the primary issuer's). */
  ca: z.string().optional(),
});

const trustFileSchema = z.strictObject({ issuers: z.array(trustedIssuerSchema).min(1) });

/** What every trusted issuer shares with the service. */
export interface TrustContext {
  service: string;
  trustDomain: string;
  clockToleranceSec: number;
  defaultCa: string | undefined;
  primaryIssuer: string;
  /** Only the service's audience under each issuer's scheme, without `extraAudiences` (the authorization server's check of subject tokens). */
  schemeOnly?: boolean;
}

function parseTrustFile(file: string): z.infer<typeof trustFileSchema> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(VARIABLE, `names a file that is not readable JSON (${file}: ${(err as Error).message})`);
  }
  const parsed = trustFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(VARIABLE, `${file}: ${issue.path.join('.') || '(top)'} ${issue.message}`);
  }
  return parsed.data;
}

/**
 * The verifiers of the issuers AGENTMESH_OAUTH_TRUST_FILE lists, each with
 * its keys from its own metadata. An issuer listed twice, or the primary
 * issuer listed again, is a configuration error: a token names one issuer
 * and is checked against that one only.
 */
export async function trustedIssuersFromFile(file: string, ctx: TrustContext): Promise<TokenVerifier[]> {
  const { issuers } = parseTrustFile(file);
  const seen = new Set([ctx.primaryIssuer]);
  const verifiers: TokenVerifier[] = [];
  for (const [i, entry] of issuers.entries()) {
    const where = `${file}: issuers.${i}`;
    if (seen.has(entry.issuer))
      throw new ConfigError(VARIABLE, `${where}: ${entry.issuer} is trusted already (each issuer once)`);
    seen.add(entry.issuer);
    const problem = audienceSchemeProblem(entry.audience, false);
    if (problem) throw new ConfigError(VARIABLE, `${where}.audience ${problem}`);
    let ca = ctx.defaultCa;
    if (entry.ca) {
      try {
        ca = readFileSync(entry.ca, 'utf8');
      } catch {
        throw new ConfigError(VARIABLE, `${where}.ca names a file that cannot be read (${entry.ca})`);
      }
    }
    const jwksUrl = entry.jwksUrl ?? (await issuerMetadata(entry.issuer, ca, VARIABLE)).jwks_uri;
    if (!jwksUrl) throw new ConfigError(VARIABLE, `${where}: the metadata of ${entry.issuer} has no jwks_uri`);
    const preset = PRESETS[entry.preset];
    verifiers.push(
      new TokenVerifier({
        issuer: entry.issuer,
        audience: [
          audienceScheme(entry.audience, ctx.trustDomain)(ctx.service),
          ...(ctx.schemeOnly ? [] : entry.extraAudiences),
        ],
        claims: { ...preset.claims, ...entry.claims },
        jwksUrl,
        ca,
        algorithms: entry.algorithms,
        clockToleranceSec: ctx.clockToleranceSec,
        requiredTyp: tokenType(entry.tokenType ?? preset.tokenType),
        accessTokenClaims: preset.accessTokenClaims,
        settingOf: (check) =>
          check === 'clockSkew'
            ? 'AGENTMESH_OAUTH_CLOCK_SKEW_S'
            : `${VARIABLE} ${where}.${check === 'subject' ? 'claims.subject' : check}`,
      }),
    );
  }
  return verifiers;
}
