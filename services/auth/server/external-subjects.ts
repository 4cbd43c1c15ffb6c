import { readFileSync } from 'node:fs';
import { decodeJwt, type JWTPayload } from 'jose';
import { audienceScheme, mapClaims, TokenError, TrustedIssuers, type MappedClaims } from '../../../mesh/index.js';
import { trustedIssuersFromFile, type TrustContext } from '../../../mesh/index.js';
import { OAuthError } from './oauth-error.js';

/** What the external issuers share with the authorization server (the trust file's context, less the service). */
export type ExternalTrustContext = Omit<TrustContext, 'service'>;

/** A verified subject token of an external issuer, read with that issuer's claim mapping. */
export interface ExternalSubject {
  issuer: string;
  claims: JWTPayload;
  principal: MappedClaims & { subject: string };
  /** The scopes the person delegated (the mapping's scope claims that are not role claims: Entra's `scp`, not its `roles`). */
  delegatedScopes: string[];
}

/**
 * The enterprise identity providers whose tokens the authorization server
 * accepts as subject tokens in token exchange (on-behalf-of), listed in an
 * AGENTMESH_OAUTH_TRUST_FILE. A subject token must be addressed to the
 * exchanging client's service under that issuer's audience scheme, so one
 * verifier set is built per exchanging service, on its first exchange.
 */
export class ExternalSubjects {
  private readonly byService = new Map<string, Promise<TrustedIssuers>>();

  private constructor(
    private readonly file: string,
    private readonly ctx: ExternalTrustContext,
    /** Each trusted issuer's audience scheme. */
    private readonly schemes: Map<string, string>,
  ) {}

  /** Reads and checks the trust file (a ConfigError naming AGENTMESH_OAUTH_TRUST_FILE when it is wrong). */
  static async load(file: string, ctx: ExternalTrustContext): Promise<ExternalSubjects> {
    await trustedIssuersFromFile(file, { ...ctx, service: 'agentmesh/auth' });
    // Checked just above: each entry has an issuer, and maybe an audience scheme.
    const entries = (JSON.parse(readFileSync(file, 'utf8')) as { issuers: { issuer: string; audience?: string }[] })
      .issuers;
    return new ExternalSubjects(file, ctx, new Map(entries.map((e) => [e.issuer, e.audience ?? 'service'])));
  }

  /**
   * The other registered services whose tokens from `issuer` would carry the same audience as
   * `service`'s: a subject token for one of them could be exchanged as if it were `service`'s.
   */
  sharing(issuer: string, service: string, services: string[]): string[] {
    const of = audienceScheme(this.schemes.get(issuer) ?? 'service', this.ctx.trustDomain);
    const own = of(service);
    return services.filter((s) => s !== service && of(s) === own);
  }

  /** Whether tokens of `issuer` are accepted as subject tokens. */
  trusts(issuer: string): boolean {
    return this.schemes.has(issuer);
  }

  /** Verifies a subject token of a trusted external issuer for the exchanging `service`; invalid_grant with the reason otherwise. */
  async verify(token: string, service: string): Promise<ExternalSubject> {
    const issuer = String(decodeJwt(token).iss);
    const verifier = await this.verifiersFor(service);
    try {
      const claims = await verifier.verify(token);
      const mapping = verifier.claimsOf(claims);
      const delegated = mapClaims(claims, {
        ...mapping,
        scopes: mapping.scopes.filter((c) => !mapping.roles.includes(c)),
      });
      return { issuer, claims, principal: verifier.principalOf(claims), delegatedScopes: delegated.scopes };
    } catch (err) {
      if (!(err instanceof TokenError)) throw err;
      if (err.reason === 'jwks_unavailable')
        throw new OAuthError('temporarily_unavailable', `the keys of ${issuer} are unavailable`, 503);
      const why =
        err.reason === 'wrong_audience'
          ? `is not addressed to the exchanging client (${service} under that issuer's audience scheme)`
          : `refused: ${err.message}`;
      throw new OAuthError('invalid_grant', `subject_token from ${issuer} ${why}`);
    }
  }

  private verifiersFor(service: string): Promise<TrustedIssuers> {
    let pending = this.byService.get(service);
    if (!pending) {
      // The service's own audience only: an issuer's extraAudiences (an application id every service
      // accepts) would let any agent exchange a token addressed to another.
      pending = trustedIssuersFromFile(this.file, { ...this.ctx, service, schemeOnly: true }).then(
        (verifiers) => new TrustedIssuers(verifiers),
        (err: Error) => {
          throw new OAuthError('temporarily_unavailable', `trusted issuers unavailable: ${err.message}`, 503);
        },
      );
      // A failure (an issuer unreachable for a moment) is tried again at the next exchange.
      pending.catch(() => this.byService.delete(service));
      this.byService.set(service, pending);
    }
    return pending;
  }
}
