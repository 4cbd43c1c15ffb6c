import { decodeJwt } from 'jose';
import { TokenError, TokenVerifier } from '../../../mesh/index.js';
import { issuerMetadata } from '../../../mesh/index.js';
import type { FederatedCredential, OAuthClient } from './clients.js';
import { OAuthError } from './oauth-error.js';

/** What checking federated credentials needs. */
export interface FederatedCredentialsOptions {
  /** The default `aud` of a federated assertion: this server's token endpoint URL. */
  tokenUrl: () => string;
  /** PEM CA for the issuers' metadata and keys (default: the system's). */
  ca?: string;
  clockToleranceSec?: number;
}

const refused = (why: string) => new OAuthError('invalid_client', `federated credential refused: ${why}`, 401);

/** What an unauthenticated caller wrote, for a one-line refusal: no control characters, bounded. */
const printable = (v: unknown) =>
  String(v)
    .replace(/\p{Cc}/gu, '?')
    .slice(0, 200);

/**
 * Checks RFC 7523 §2.2 client assertions that another issuer gave a client
 * (a Kubernetes projected service-account token, as Entra ID's workload
 * identity federation accepts): signature against that issuer's keys (from
 * its metadata, cached, refetched on rotation), `iss`, `sub`, `aud`, `exp`.
 *
 * Not single-use: the workload cannot mint assertions, it presents the one the
 * kubelet rotates into its file, for every token it needs until that expires
 * (as Entra ID and Okta accept them).
 */
export class FederatedCredentials {
  private readonly jwksUrls = new Map<string, Promise<string>>();
  private readonly verifiers = new Map<string, TokenVerifier>();

  constructor(private readonly options: FederatedCredentialsOptions) {}

  /** Resolves when `assertion` is `client`'s federated credential; else rejects with invalid_client and the reason. */
  async verify(assertion: string, client: OAuthClient): Promise<void> {
    const federated = client.federated;
    if (!federated) throw refused(`client ${client.client_id} has no federated credential`);
    let iss: unknown;
    try {
      iss = decodeJwt(assertion).iss;
    } catch {
      throw refused('client_assertion is not a JWT');
    }
    if (iss !== federated.issuer)
      throw refused(
        `issued by ${printable(iss)}, but client ${client.client_id} is federated with ${federated.issuer}`,
      );
    const audience = federated.audience ?? this.options.tokenUrl();
    let claims;
    try {
      claims = await (await this.verifierFor(federated, audience)).verify(assertion);
    } catch (err) {
      if (err instanceof OAuthError) throw err;
      if (err instanceof TokenError && err.reason === 'wrong_audience')
        throw refused(`its audience is not ${audience}`);
      throw refused(err instanceof TokenError ? err.message : 'issuer keys unavailable');
    }
    if (claims.sub !== federated.subject)
      throw refused(
        `subject ${printable(claims.sub)} is not ${federated.subject}, which client ${client.client_id} is federated as`,
      );
  }

  private async verifierFor(federated: FederatedCredential, audience: string): Promise<TokenVerifier> {
    const key = `${federated.issuer}\n${audience}`;
    let verifier = this.verifiers.get(key);
    if (!verifier) {
      verifier = new TokenVerifier({
        issuer: federated.issuer,
        audience,
        jwksUrl: await this.jwksUrlOf(federated.issuer),
        ca: this.options.ca,
        clockToleranceSec: this.options.clockToleranceSec ?? 30,
        // Service-account tokens carry no RFC 9068 typ: they are credentials, not access tokens.
        requiredTyp: '',
      });
      this.verifiers.set(key, verifier);
    }
    return verifier;
  }

  /** The issuer's jwks_uri from its metadata, looked up once (again after a failure). */
  private jwksUrlOf(issuer: string): Promise<string> {
    let url = this.jwksUrls.get(issuer);
    if (!url) {
      url = issuerMetadata(issuer, this.options.ca).then(
        (meta) => {
          if (!meta.jwks_uri) throw refused(`the metadata of ${issuer} has no jwks_uri`);
          return meta.jwks_uri;
        },
        () => {
          throw refused(`the metadata of ${issuer} is unavailable`);
        },
      );
      url.catch(() => this.jwksUrls.delete(issuer));
      this.jwksUrls.set(issuer, url);
    }
    return url;
  }
}
