import { createRemoteJWKSet, customFetch, errors, jwtVerify, type JWTPayload } from 'jose';
import { httpRequest } from './https-client.js';

/** Asymmetric algorithms only: no `none`, no HMAC (which a public key could forge). */
export const DEFAULT_ALGORITHMS = ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'];

/** Options for a TokenVerifier. */
export interface TokenVerifierOptions {
  issuer: string;
  /** This service's name: tokens must be addressed to it. */
  audience: string;
  jwksUrl: string;
  /** PEM CA to trust when fetching the JWKS over https. */
  ca?: string;
  algorithms?: string[];
  /** Tolerated clock difference for exp/nbf/iat, seconds (default 30). */
  clockToleranceSec?: number;
  /** Required JWT `typ` header (RFC 9068: "at+jwt"); empty string disables the check. */
  requiredTyp?: string;
  /** Minimum time between JWKS fetches triggered by unknown key ids (default 1000 ms). */
  cooldownMs?: number;
  /** How many verified tokens are remembered (default 10,000; 0 verifies every time). */
  cacheSize?: number;
}

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
 * Verifies bearer access tokens: signature against the issuer's JWKS (cached;
 * refetched, rate-limited, when an unknown key id appears, so signing-key
 * rotation works without restarts), allowed algorithms, iss, aud, exp/nbf
 * with clock tolerance, and the RFC 9068 `typ`.
 */
export class TokenVerifier {
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

  /** Verifies a compact JWS; resolves with its claims or rejects with a TokenError. */
  async verify(token: string): Promise<JWTPayload> {
    const known = this.verified.get(token);
    if (known) {
      if (Date.now() <= known.expiresAtMs) return known.payload;
      this.verified.delete(token);
      throw new TokenError('expired', 'token expired');
    }
    const payload = await this.verifySignature(token);
    this.remember(token, payload);
    return payload;
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
      requiredClaims: ['exp', 'iat', 'sub'],
      ...(typ ? { typ } : {}),
    });
    return payload;
  }
}

/** The scopes of a token: RFC 9068 `scope` (space-separated) or `scp` (array, as Entra and Okta issue). */
export function scopesOf(claims: JWTPayload): string[] {
  if (typeof claims.scope === 'string') return claims.scope.split(' ').filter(Boolean);
  // `scp`: an array (Okta) or a space-separated string (Entra ID).
  if (typeof claims.scp === 'string') return claims.scp.split(' ').filter(Boolean);
  if (Array.isArray(claims.scp)) return claims.scp.filter((s): s is string => typeof s === 'string');
  return [];
}

/** The OAuth client that obtained the token: `client_id` (RFC 9068), else `azp` (OpenID Connect, Keycloak), else `appid` (Entra ID v1). */
export function clientIdOf(claims: JWTPayload): string | undefined {
  for (const claim of ['client_id', 'azp', 'appid']) if (typeof claims[claim] === 'string') return claims[claim];
  return undefined;
}

/** A person's roles and groups: the `roles` and `groups` claims, each an array or a space-separated string. */
export function rolesOf(claims: JWTPayload): string[] {
  const list = (v: unknown): string[] =>
    typeof v === 'string'
      ? v.split(' ').filter(Boolean)
      : Array.isArray(v)
        ? v.filter((s): s is string => typeof s === 'string' && s.length > 0)
        : [];
  return [...new Set([...list(claims.roles), ...list(claims.groups)])];
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
