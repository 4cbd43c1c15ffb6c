import { randomUUID, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { decodeJwt, SignJWT } from 'jose';
import type { MetadataHook } from '../client/index.js';
import { Code, MeshError } from '../core/index.js';
import type { AudienceOf } from './audiences.js';
import type { AudienceRequest } from './claim-mapping.js';
import { httpRequest } from './https-client.js';
import { audienceFields } from './audience-fields.js';

/** How this workload authenticates at the token endpoint. */
export type ClientAuthMethod =
  | { method: 'client_secret_basic'; secret: string }
  | { method: 'private_key_jwt'; privateKeyPem: string; alg?: string; kid?: string }
  /**
   * A federated workload credential (RFC 7523 §2.2 client assertion): a JWT
   * another issuer gave this workload, e.g. the Kubernetes projected
   * service-account token, read from its file at every request (the kubelet
   * rotates it), as Entra workload identity federation and Okta accept.
   */
  | { method: 'federated'; assertionFile: string };

/** Options for a TokenClient. */
export interface TokenClientOptions {
  tokenUrl: string;
  clientId: string;
  auth: ClientAuthMethod;
  /** PEM CA to trust for the token endpoint (the mesh CA locally). */
  ca?: string;
  /** Refresh this long before expiry (default 30 s, at most half the lifetime). */
  refreshSkewMs?: number;
  /** The audience a service's tokens carry (AGENTMESH_OAUTH_AUDIENCE; default: the service name). */
  audienceOf?: AudienceOf;
  /** How the audience is asked for (the preset's: `audience`, RFC 8707 `resource`, `{audience}/.default` scope, or not at all). */
  request?: AudienceRequest[];
}

interface Cached {
  token: string;
  refreshAt: number;
  expiresAt: number;
}

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** At most this many exchanged tokens are kept (one per caller token and audience); the oldest go first. */
const MAX_EXCHANGED = 10_000;
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/**
 * Obtains access tokens from any standard OAuth2 token endpoint (the local
 * auth server, Keycloak, Entra, Okta): client credentials with a secret or
 * a private-key JWT, cached per audience and scope and refreshed before
 * expiry (concurrent callers share one request), and RFC 8693 exchange,
 * cached per exact subject token, audience and scopes until shortly before
 * the earlier of the two tokens' expiry (never shared across callers).
 */
export class TokenClient {
  private readonly cache = new Map<string, Cached>();
  /** Exchanged tokens, keyed by the exact subject token, audience and scopes. */
  private readonly exchanged = new Map<string, Cached>();
  private readonly inFlight = new Map<string, Promise<string>>();
  private readonly signingKey: KeyObject | undefined;

  constructor(readonly options: TokenClientOptions) {
    if (options.auth.method === 'private_key_jwt') this.signingKey = createPrivateKey(options.auth.privateKeyPem);
  }

  /** The audience tokens for `service` carry. */
  audienceFor(service: string): string {
    return (this.options.audienceOf ?? ((s: string) => s))(service);
  }

  /** A form asking for a token for `service` with `scopes`, the way the issuer expects the audience named. */
  private form(fields: Record<string, string>, service: string, scopes: string[]): URLSearchParams {
    const form = new URLSearchParams(fields);
    const request = this.options.request ?? ['audience'];
    for (const [name, value] of audienceFields(request, this.audienceFor(service), scopes)) form.set(name, value);
    return form;
  }

  /** A token for calling `service` with `scopes`, from the cache while it is fresh. */
  getToken(service: string, scopes: string[] = []): Promise<string> {
    const form = this.form({ grant_type: 'client_credentials' }, service, scopes);
    return this.cached(`${service}\n${[...scopes].sort().join(' ')}`, form);
  }

  /** A fresh token from the cache, else from the endpoint (one request for concurrent callers); a still-valid one when the endpoint hiccups. */
  private async cached(
    key: string,
    form: URLSearchParams,
    cache = this.cache,
    fit: (answer: Cached) => Cached = (a) => a,
  ): Promise<string> {
    const cached = cache.get(key);
    if (cached && Date.now() < cached.refreshAt) return cached.token;
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.request(form)
        .then((answer) => {
          cache.set(key, fit(answer));
          return answer.token;
        })
        .finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    try {
      return await pending;
    } catch (err) {
      // Keep working on a still-valid token when the token endpoint hiccups.
      if (cached && Date.now() < cached.expiresAt) return cached.token;
      throw err;
    }
  }

  /**
   * Exchanges a token addressed to this workload for one addressed to `service`, acting for its
   * subject. The answer is reused for the same subject token, audience and scopes (each child task
   * of one caller's task asks again otherwise), until shortly before the earlier expiry of the two
   * tokens: the exchanged token never outlives the authority it was exchanged from.
   */
  async exchange(subjectToken: string, service: string, scopes: string[] = []): Promise<string> {
    const form = this.form(
      {
        grant_type: TOKEN_EXCHANGE,
        subject_token: subjectToken,
        subject_token_type: ACCESS_TOKEN_TYPE,
        requested_token_type: ACCESS_TOKEN_TYPE,
      },
      service,
      scopes,
    );
    const subjectExpiresAt = expiryOf(subjectToken);
    // An opaque subject token (no readable expiry) is exchanged every time.
    if (subjectExpiresAt === undefined) return (await this.request(form)).token;
    this.evictExchanged();
    const key = `exchange\n${subjectToken}\n${service}\n${[...scopes].sort().join(' ')}`;
    return this.cached(key, form, this.exchanged, (answer) => {
      const expiresAt = Math.min(answer.expiresAt, subjectExpiresAt);
      const skew = answer.expiresAt - answer.refreshAt;
      return { token: answer.token, expiresAt, refreshAt: Math.min(answer.refreshAt, expiresAt - skew) };
    });
  }

  /** Drops exchanged tokens past their refresh time, and the oldest beyond MAX_EXCHANGED. */
  private evictExchanged(): void {
    if (this.exchanged.size < MAX_EXCHANGED) return;
    const now = Date.now();
    for (const [key, c] of this.exchanged) if (now >= c.refreshAt) this.exchanged.delete(key);
    for (const key of this.exchanged.keys()) {
      if (this.exchanged.size < MAX_EXCHANGED) break;
      this.exchanged.delete(key);
    }
  }

  /** A token for a named person (dev login; needs the impersonation privilege), cached like getToken's. */
  tokenForUser(user: string, service: string, scopes: string[] = []): Promise<string> {
    const form = this.form({ grant_type: TOKEN_EXCHANGE, requested_subject: user }, service, scopes);
    return this.cached(`user:${user}\n${service}\n${[...scopes].sort().join(' ')}`, form);
  }

  /**
   * A client metadata hook adding `authorization: Bearer` for the callee's
   * audience; when the call is made for an incoming one, the caller's token
   * is exchanged so the callee sees the original subject and this agent in `act`.
   */
  metadataHook(service: string, scopes: string[] = [], options: { actForCaller?: boolean } = {}): MetadataHook {
    return async (metadata, call) => {
      let token: string;
      if (options.actForCaller && !call.asSelf) {
        const incoming = call.actFor ?? call.parent?.principal?.token;
        // Falling back to this workload's own token would make it the subject: refuse instead.
        if (!incoming)
          throw new MeshError(Code.UNAUTHENTICATED, `no caller authority to act for when calling ${service}`);
        token = await this.exchange(incoming, service, scopes);
      } else {
        token = await this.getToken(service, scopes);
      }
      metadata.set('authorization', `Bearer ${token}`);
    };
  }

  /** The workload's current federated credential, read fresh (the kubelet rotates the file). */
  private async federatedAssertion(file: string): Promise<string> {
    try {
      return (await readFile(file, 'utf8')).trim();
    } catch (err) {
      throw new MeshError(
        Code.UNAUTHENTICATED,
        `federated credential unreadable (${file}): ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  private async request(form: URLSearchParams): Promise<Cached> {
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    };
    const { auth, clientId, tokenUrl } = this.options;
    if (auth.method === 'client_secret_basic') {
      headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(auth.secret)}`).toString('base64')}`;
    } else if (auth.method === 'federated') {
      form.set('client_id', clientId);
      form.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      form.set('client_assertion', await this.federatedAssertion(auth.assertionFile));
    } else {
      form.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      form.set(
        'client_assertion',
        await new SignJWT({})
          .setProtectedHeader({ alg: auth.alg ?? 'ES256', ...(auth.kid ? { kid: auth.kid } : {}) })
          .setIssuer(clientId)
          .setSubject(clientId)
          .setAudience(tokenUrl)
          .setIssuedAt()
          .setExpirationTime('60s')
          .setJti(randomUUID())
          .sign(this.signingKey!),
      );
    }
    let answer;
    try {
      answer = await httpRequest(tokenUrl, { method: 'POST', headers, body: form.toString(), ca: this.options.ca });
    } catch (err) {
      throw new MeshError(Code.UNAVAILABLE, `token endpoint unreachable: ${(err as Error).message}`, {
        cause: err,
        remote: tokenUrl,
      });
    }
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(answer.body.toString() || '{}') as Record<string, unknown>;
    } catch {
      // A proxy's HTML error page: reported by status below.
    }
    if (answer.status !== 200 || typeof body.access_token !== 'string') {
      const code = answer.status >= 500 ? Code.UNAVAILABLE : Code.UNAUTHENTICATED;
      throw new MeshError(
        code,
        `token request refused: ${String(body.error ?? answer.status)}${body.error_description ? ` (${String(body.error_description)})` : ''}`,
        {
          remote: tokenUrl,
        },
      );
    }
    const lifetimeMs = Number(body.expires_in ?? 300) * 1000;
    const skew = Math.min(this.options.refreshSkewMs ?? 30_000, lifetimeMs / 2);
    const now = Date.now();
    return { token: body.access_token, refreshAt: now + lifetimeMs - skew, expiresAt: now + lifetimeMs };
  }
}

/** The expiry (ms since the epoch) a JWT states, unverified (the caller's token was verified on arrival); undefined when unreadable. */
function expiryOf(token: string): number | undefined {
  try {
    const { exp } = decodeJwt(token);
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
