import {
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JWTPayload,
} from 'jose';
import { mapClaims, PRESETS, type ClaimMapping, type MappedClaims } from './claim-mapping.js';
import { httpRequest } from './https-client.js';

/** Asymmetric algorithms only: no `none`, no HMAC (which a public key could forge). */
export const DEFAULT_ALGORITHMS = ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'];

/** Options for a TokenVerifier. */
export interface TokenVerifierOptions {
  issuer: string;
  /** The audiences this service accepts (AGENTMESH_OAUTH_AUDIENCE): a token must name one of them. */
  audience: string | string[];
  /** Which claims make the principal (default: the agentmesh preset's). */
  claims?: ClaimMapping;
  jwksUrl: string;
  /** PEM CA to trust when fetching the JWKS over https. */
  ca?: string;
  algorithms?: string[];
  /** Tolerated clock difference for exp/nbf/iat, seconds (default 30). */
  clockToleranceSec?: number;
  /** Required JWT `typ` header (RFC 9068: "at+jwt"); empty string disables the check. */
  requiredTyp?: string;
  /** Without a required `typ`: an access token carries one of these claims (the preset's), an ID token does not. */
  accessTokenClaims?: string[];
  /** Minimum time between JWKS fetches triggered by unknown key ids (default 1000 ms). */
  cooldownMs?: number;
  /** How many verified tokens are remembered (default 10,000; 0 verifies every time). */
  cacheSize?: number;
  /** Where each check is configured, named in the log when a token does not fit (default: the AGENTMESH_OAUTH_* variables). */
  settingOf?: (check: TokenSetting) => string;
}

/** The configured checks a token can fail. */
export type TokenSetting = 'issuer' | 'audience' | 'algorithms' | 'tokenType' | 'subject' | 'clockSkew';

const ENV_SETTINGS: Record<TokenSetting, string> = {
  issuer: 'AGENTMESH_OAUTH_ISSUER',
  audience: 'AGENTMESH_OAUTH_AUDIENCE',
  algorithms: 'AGENTMESH_OAUTH_ALGORITHMS',
  tokenType: 'AGENTMESH_OAUTH_TOKEN_TYPE',
  subject: 'AGENTMESH_OAUTH_SUBJECT_CLAIMS',
  clockSkew: 'AGENTMESH_OAUTH_CLOCK_SKEW_S',
};

/** Why a token was refused; also a metrics label. */
export type TokenFailure =
  | 'missing'
  | 'malformed'
  | 'algorithm_not_allowed'
  | 'unknown_key'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'wrong_type'
  | 'invalid_claims'
  | 'jwks_unavailable';

/** A refused token, with a reason safe to send to the caller. */
export class TokenError extends Error {
  constructor(
    readonly reason: TokenFailure,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = 'TokenError';
  }
}

function classify(err: unknown): TokenError {
  if (err instanceof TokenError) return err;
  if (err instanceof errors.JWTExpired) return new TokenError('expired', 'token expired', { cause: err });
  if (err instanceof errors.JWTClaimValidationFailed) {
    const byClaim: Record<string, [TokenFailure, string]> = {
      nbf: ['not_yet_valid', 'token not yet valid'],
      iss: ['wrong_issuer', 'token issuer not trusted'],
      aud: ['wrong_audience', 'token not issued for this service'],
      typ: ['wrong_type', 'not an access token (typ)'],
    };
    const [reason, message] = byClaim[err.claim] ?? ['invalid_claims', `token claim ${err.claim} invalid`];
    return new TokenError(reason, message, { cause: err });
  }
  if (err instanceof errors.JOSEAlgNotAllowed)
    return new TokenError('algorithm_not_allowed', 'token algorithm not allowed', { cause: err });
  if (err instanceof errors.JWKSNoMatchingKey)
    return new TokenError('unknown_key', 'token signed by an unknown key', { cause: err });
  if (err instanceof errors.JWSSignatureVerificationFailed)
    return new TokenError('bad_signature', 'token signature invalid', { cause: err });
  // Anything that is not a JOSE verdict on the token came from fetching the keys.
  if (!(err instanceof errors.JOSEError) || err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) {
    return new TokenError('jwks_unavailable', 'token keys unavailable', { cause: err });
  }
  return new TokenError('malformed', 'token malformed', { cause: err });
}

/**
 * A refusal an operator can act on: `message` (sent to the caller) says what the token has and
 * what is accepted; the cause (logged, never sent) names the setting that decided it.
 */
function refusal(reason: TokenFailure, message: string, note: string, cause?: unknown): TokenError {
  return new TokenError(reason, message, { cause: new Error(note, { cause }) });
}

/** What an unverified token says about itself, for refusal messages only (never trusted). */
function unverified(token: string): { header: Record<string, unknown>; claims: JWTPayload } {
  try {
    return { header: decodeProtectedHeader(token) as Record<string, unknown>, claims: decodeJwt(token) };
  } catch {
    return { header: {}, claims: {} };
  }
}

/** A claim or header value for a one-line message: the caller wrote it, so no control characters and a bounded length. */
const list = (v: unknown) =>
  (Array.isArray(v) ? v.map(String).join(', ') : String(v ?? '(none)')).replace(/\p{Cc}/gu, '?').slice(0, 200);

/** Checks bearer tokens and reads the principal from their claims: one issuer (TokenVerifier) or several (TrustedIssuers). */
export interface TokenCheck {
  /** Resolves with the verified claims or rejects with a TokenError. */
  verify(token: string): Promise<JWTPayload>;
  /** The principal's parts from claims `verify` returned; a TokenError when the subject claim is missing. */
  principalOf(claims: JWTPayload): MappedClaims & { subject: string };
}

/**
 * Verifies bearer access tokens: signature against the issuer's JWKS (cached;
 * refetched, rate-limited, when an unknown key id appears, so signing-key
 * rotation works without restarts), allowed algorithms, iss, aud, exp/nbf
 * with clock tolerance, and the RFC 9068 `typ`.
 */
export class TokenVerifier implements TokenCheck {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;
  private readonly cooldownMs: number;
  // A client sends the same token with every call until it renews it: verifying its signature
  // once is enough. Keyed by the whole compact token, so any other byte is another token; a hit
  // still checks expiry (an expired entry goes when it is next presented); the cache is bounded.
  private readonly verified = new Map<string, { payload: JWTPayload; expiresAtMs: number }>();

  constructor(readonly options: TokenVerifierOptions) {
    this.cooldownMs = options.cooldownMs ?? 1_000;
    this.jwks = createRemoteJWKSet(new URL(options.jwksUrl), {
      cooldownDuration: this.cooldownMs,
      timeoutDuration: 5_000,
      [customFetch]: async (url, init) => {
        const answer = await httpRequest(url, { ca: options.ca, signal: init.signal });
        return new Response(new Uint8Array(answer.body), { status: answer.status, headers: answer.headers });
      },
    });
  }

  /** The issuer this verifier trusts. */
  get issuer(): string {
    return this.options.issuer;
  }

  /** The claim mapping the principal is read with. */
  get claims(): ClaimMapping {
    return this.options.claims ?? PRESETS.agentmesh.claims;
  }

  /** The principal's parts, read with this issuer's claim mapping. */
  principalOf(claims: JWTPayload): MappedClaims & { subject: string } {
    const mapping = this.options.claims ?? PRESETS.agentmesh.claims;
    const mapped = mapClaims(claims, mapping);
    if (!mapped.subject)
      throw refusal(
        'invalid_claims',
        `token has no subject claim (${mapping.subject.join(', ')})`,
        `${this.setting('subject')} names ${mapping.subject.join(', ')}; the token has none of them`,
      );
    return { ...mapped, subject: mapped.subject };
  }

  private setting(check: TokenSetting): string {
    return this.options.settingOf?.(check) ?? ENV_SETTINGS[check];
  }

  /** A classified refusal, reworded to say what the token has, what is accepted, and (in the log) which setting decides. */
  private explain(err: TokenError, token: string): TokenError {
    const { header, claims } = unverified(token);
    const o = this.options;
    const jose = err.cause;
    switch (err.reason) {
      case 'wrong_issuer':
        return refusal(
          err.reason,
          `token issuer not trusted: ${list(claims.iss)} (trusted: ${o.issuer})`,
          `${this.setting('issuer')} is ${o.issuer}; the token is from ${list(claims.iss)}`,
          jose,
        );
      case 'wrong_audience': {
        const accepted = [o.audience].flat().join(', ');
        return refusal(
          err.reason,
          `token not issued for this service: audience ${list(claims.aud)} (accepted: ${accepted})`,
          `${this.setting('audience')} accepts ${accepted}; the token is for ${list(claims.aud)}`,
          jose,
        );
      }
      case 'algorithm_not_allowed': {
        const allowed = (o.algorithms ?? DEFAULT_ALGORITHMS).join(', ');
        return refusal(
          err.reason,
          `token algorithm not allowed: ${list(header.alg)} (allowed: ${allowed})`,
          `${this.setting('algorithms')} allows ${allowed}; the token is signed with ${list(header.alg)}`,
          jose,
        );
      }
      case 'wrong_type': {
        const typ = o.requiredTyp ?? 'at+jwt';
        if (!typ)
          return refusal(
            err.reason,
            err.message,
            `no typ is required here (${this.setting('tokenType')}), so ID tokens are told apart by their nonce/at_hash/typ claims`,
            jose,
          );
        return refusal(
          err.reason,
          `not an access token (typ): ${list(header.typ)}, expected ${typ}`,
          `${this.setting('tokenType')} (default: the preset's) requires typ ${typ}; the token's is ${list(header.typ)}`,
          jose,
        );
      }
      case 'expired': {
        const at = typeof claims.exp === 'number' ? new Date(claims.exp * 1000).toISOString() : '(unknown)';
        return refusal(
          err.reason,
          `token expired at ${at}`,
          `expired at ${at}, beyond ${this.setting('clockSkew')}=${o.clockToleranceSec ?? 30} s of clock skew`,
          jose,
        );
      }
      default:
        return err;
    }
  }

  /** Verifies a compact JWS; resolves with its claims or rejects with a TokenError. */
  async verify(token: string): Promise<JWTPayload> {
    const known = this.verified.get(token);
    if (known) {
      if (Date.now() <= known.expiresAtMs) return known.payload;
      this.verified.delete(token);
      throw this.explain(new TokenError('expired', 'token expired'), token);
    }
    const payload = await this.verifySignature(token).catch((err: unknown) => {
      throw err instanceof TokenError ? this.explain(err, token) : err;
    });
    this.remember(token, payload);
    return payload;
  }

  /** Whether this verifier has verified the token before (and still remembers it, expired or not). */
  remembers(token: string): boolean {
    return this.verified.has(token);
  }

  private remember(token: string, payload: JWTPayload): void {
    const size = this.options.cacheSize ?? 10_000;
    if (size <= 0 || typeof payload.exp !== 'number') return;
    // Full: the token first seen longest ago goes (it is the likeliest to have been replaced).
    if (this.verified.size >= size) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, {
      payload: Object.freeze(payload),
      expiresAtMs: (payload.exp + (this.options.clockToleranceSec ?? 30)) * 1000,
    });
  }

  private async verifySignature(token: string): Promise<JWTPayload> {
    if (!/^[\w-]+\.[\w-]+\.[\w-]*$/.test(token)) throw new TokenError('malformed', 'token malformed');
    // Another issuer's token would otherwise fail its signature check against this issuer's keys
    // ("signature invalid"), hiding the plain reason: it names an issuer this service does not trust.
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch (err) {
      throw new TokenError('malformed', 'token malformed', { cause: err });
    }
    if (iss !== this.options.issuer) throw new TokenError('wrong_issuer', 'token issuer not trusted');
    try {
      return await this.verifyOnce(token);
    } catch (err) {
      // A key rotated in moments ago: wait out the refetch rate limit once, then look again.
      if (!(err instanceof errors.JWKSNoMatchingKey) || !this.jwks.coolingDown) throw classify(err);
    }
    await new Promise((r) => setTimeout(r, this.cooldownMs));
    try {
      return await this.verifyOnce(token);
    } catch (err) {
      throw classify(err);
    }
  }

  private async verifyOnce(token: string): Promise<JWTPayload> {
    const typ = this.options.requiredTyp ?? 'at+jwt';
    const { payload } = await jwtVerify(token, this.jwks, {
      issuer: this.options.issuer,
      audience: this.options.audience,
      algorithms: this.options.algorithms ?? DEFAULT_ALGORITHMS,
      clockTolerance: this.options.clockToleranceSec ?? 30,
      requiredClaims: ['exp', 'iat'],
      ...(typ ? { typ } : {}),
    });
    // Without a `typ` to tell them apart, an OpenID Connect ID token (it may name this service's
    // application as audience) must not pass for an access token: it is for the client, not for us.
    if (!typ) {
      const marks = this.options.accessTokenClaims ?? [];
      const idToken = ['nonce', 'at_hash', 'c_hash'].some((c) => payload[c] !== undefined) || payload.typ === 'ID';
      if (idToken || (marks.length && !marks.some((c) => payload[c] !== undefined)))
        throw new TokenError(
          'wrong_type',
          `an ID token, not an access token${idToken ? '' : ` (it has none of ${marks.join(', ')})`}`,
        );
    }
    return payload;
  }
}

/** The acting agents of an `act` claim (RFC 8693), the current actor first. */
export function actorsOf(claims: JWTPayload): string[] {
  const actors: string[] = [];
  let act = claims.act as { sub?: unknown; act?: unknown } | undefined;
  while (act && typeof act === 'object' && actors.length < 16) {
    if (typeof act.sub === 'string') actors.push(act.sub);
    act = act.act as typeof act;
  }
  return actors;
}

/**
 * Several issuers trusted side by side (the mesh's own for workloads, the
 * enterprise IdP for people): a token is checked only against the issuer its
 * `iss` names, with that issuer's keys, audiences and claim mapping.
 */
export class TrustedIssuers implements TokenCheck {
  private readonly byIssuer = new Map<string, TokenVerifier>();
  private readonly ofClaims = new WeakMap<JWTPayload, TokenVerifier>();

  constructor(verifiers: TokenVerifier[]) {
    for (const v of verifiers) this.byIssuer.set(v.issuer, v);
  }

  /** The trusted issuers' identifiers (what an RFC 9728 document lists as authorization servers). */
  get issuers(): string[] {
    return [...this.byIssuer.keys()];
  }

  async verify(token: string): Promise<JWTPayload> {
    // A token seen before goes to the verifier that remembers it (which still checks its expiry):
    // no decoding of its payload at every call to find the issuer.
    for (const known of this.byIssuer.values()) if (known.remembers(token)) return this.verifiedBy(known, token);
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch (err) {
      throw new TokenError('malformed', 'token malformed', { cause: err });
    }
    const verifier = typeof iss === 'string' ? this.byIssuer.get(iss) : undefined;
    if (!verifier) {
      const trusted = [...this.byIssuer.keys()].join(', ');
      throw refusal(
        'wrong_issuer',
        `token issuer not trusted: ${list(iss)} (trusted: ${trusted})`,
        `AGENTMESH_OAUTH_ISSUER and AGENTMESH_OAUTH_TRUST_FILE trust ${trusted}; the token is from ${list(iss)}`,
      );
    }
    return this.verifiedBy(verifier, token);
  }

  private async verifiedBy(verifier: TokenVerifier, token: string): Promise<JWTPayload> {
    const claims = await verifier.verify(token);
    this.ofClaims.set(claims, verifier);
    return claims;
  }

  principalOf(claims: JWTPayload): MappedClaims & { subject: string } {
    return this.verifierOf(claims).principalOf(claims);
  }

  /** The claim mapping of the issuer that verified `claims`. */
  claimsOf(claims: JWTPayload): ClaimMapping {
    return this.verifierOf(claims).claims;
  }

  private verifierOf(claims: JWTPayload): TokenVerifier {
    const verifier = this.ofClaims.get(claims) ?? this.byIssuer.get(String(claims.iss));
    if (!verifier) throw new TokenError('wrong_issuer', 'token issuer not trusted');
    return verifier;
  }
}
