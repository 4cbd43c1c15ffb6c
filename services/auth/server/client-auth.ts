import { createHash, timingSafeEqual } from 'node:crypto';
import { decodeJwt, importSPKI, jwtVerify } from 'jose';
import type { SecretsProvider } from '../../../mesh/index.js';
import type { ClientDirectory, OAuthClient } from './clients.js';
import type { FederatedCredentials } from './federated-credentials.js';
import { OAuthError } from './oauth-error.js';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const ASSERTION_CLOCK_TOLERANCE_S = 30;

function sameSecret(a: string, b: string): boolean {
  // Compare digests so neither the length nor the content leaks through timing.
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** Replay protection for client assertions: jti values seen until they expire. */
class SeenAssertions {
  private readonly seen = new Map<string, number>();
  remember(key: string, expSec: number): boolean {
    const now = Date.now() / 1000;
    for (const [k, exp] of this.seen) if (exp < now) this.seen.delete(k);
    if (this.seen.has(key)) return false;
    this.seen.set(key, expSec);
    return true;
  }
}

/**
 * Authenticates the client of a token request: client_secret_basic (or
 * _post) against the secret in the secrets provider, or private_key_jwt
 * (RFC 7523) against the registered public key, with replay protection,
 * or a federated credential from another issuer (RFC 7523 §2.2).
 */
export class ClientAuthenticator {
  private readonly seen = new SeenAssertions();

  constructor(
    private readonly clients: ClientDirectory,
    private readonly secrets: SecretsProvider,
    /** Accepted `aud` values of client assertions: the token endpoint URL and the issuer. */
    private readonly assertionAudiences: () => string[],
    /** Checks federated credentials; absent: clients with one cannot authenticate. */
    private readonly federated?: FederatedCredentials,
  ) {}

  async authenticate(form: URLSearchParams, authorization: string | undefined): Promise<OAuthClient> {
    if (form.get('client_assertion_type') === ASSERTION_TYPE) {
      const assertion = form.get('client_assertion') ?? '';
      const federatedClient = this.federatedClient(form.get('client_id'), assertion);
      if (federatedClient) {
        if (!this.federated) throw new OAuthError('invalid_client', 'federated credentials are not accepted', 401);
        await this.federated.verify(assertion, federatedClient);
        return federatedClient;
      }
      const client = await this.byAssertion(assertion);
      // A client_id beside the assertion must name the client the assertion authenticated (RFC 7521 §4.2).
      const named = form.get('client_id');
      if (named && named !== client.client_id)
        throw new OAuthError('invalid_client', 'client_id is not the client of the assertion', 401);
      return client;
    }
    let id: string | null = form.get('client_id');
    let secret: string | null = form.get('client_secret');
    if (authorization?.startsWith('Basic ')) {
      const decoded = Buffer.from(authorization.slice(6), 'base64').toString();
      const colon = decoded.indexOf(':');
      if (colon < 0) throw new OAuthError('invalid_client', 'malformed basic credentials', 401);
      try {
        id = decodeURIComponent(decoded.slice(0, colon));
        secret = decodeURIComponent(decoded.slice(colon + 1));
      } catch {
        throw new OAuthError('invalid_client', 'malformed basic credentials', 401);
      }
    }
    if (!id || !secret) throw new OAuthError('invalid_client', 'client authentication required', 401);
    const client = this.clients.get(id);
    if (!client || client.auth.method !== 'client_secret_basic') {
      throw new OAuthError('invalid_client', 'client authentication failed', 401);
    }
    const stored = await this.secrets.read(client.auth.secret_path);
    if (!stored.client_secret || !sameSecret(secret, stored.client_secret)) {
      throw new OAuthError('invalid_client', 'client authentication failed', 401);
    }
    return client;
  }

  /**
   * The federated client an assertion is for: the one `client_id` names (Entra ID's way), else the
   * one registered for the assertion's issuer and subject. A private-key client names itself in `iss`.
   */
  private federatedClient(clientId: string | null, assertion: string): OAuthClient | undefined {
    let claimed: { iss?: string; sub?: string } = {};
    try {
      claimed = decodeJwt(assertion);
    } catch {
      // Not a JWT: refused by whichever check comes next.
    }
    if (clientId) {
      const named = this.clients.get(clientId);
      // A private key assertion names the client itself as its issuer; anything else is the federated one.
      if (named?.auth.method === 'private_key_jwt' && claimed.iss === clientId) return undefined;
      return named?.federated ? named : undefined;
    }
    return claimed.iss && claimed.sub ? this.clients.federatedAs(claimed.iss, claimed.sub) : undefined;
  }

  private async byAssertion(assertion: string): Promise<OAuthClient> {
    const claimed = (() => {
      try {
        return JSON.parse(Buffer.from(assertion.split('.')[1] ?? '', 'base64url').toString()) as { iss?: string };
      } catch {
        return {};
      }
    })();
    const client = claimed.iss ? this.clients.get(claimed.iss) : undefined;
    if (!client || client.auth.method !== 'private_key_jwt') {
      throw new OAuthError('invalid_client', 'client authentication failed', 401);
    }
    try {
      const key = await importSPKI(client.auth.public_key_pem, client.auth.alg);
      const { payload } = await jwtVerify(assertion, key, {
        issuer: client.client_id,
        subject: client.client_id,
        audience: this.assertionAudiences(),
        algorithms: [client.auth.alg],
        requiredClaims: ['exp', 'jti'],
        clockTolerance: ASSERTION_CLOCK_TOLERANCE_S,
      });
      // Short-lived assertions only: bounds the replay cache.
      if (payload.exp! > Date.now() / 1000 + 600)
        throw new OAuthError('invalid_client', 'client assertion lives too long', 401);
      // Remember the jti for as long as the assertion verifies: until exp plus the clock tolerance.
      if (!this.seen.remember(`${client.client_id}:${payload.jti}`, payload.exp! + ASSERTION_CLOCK_TOLERANCE_S)) {
        throw new OAuthError('invalid_client', 'client assertion replayed', 401);
      }
    } catch (err) {
      if (err instanceof OAuthError) throw err;
      throw new OAuthError('invalid_client', 'client assertion invalid', 401);
    }
    return client;
  }
}
