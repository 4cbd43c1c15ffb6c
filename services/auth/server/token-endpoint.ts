import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import type { Logger } from 'pino';
import type { AudienceOf, AuditLog } from '../../../mesh/index.js';
import { mapClaims, PRESETS } from '../../../mesh/index.js';
import type { ClientAuthenticator } from './client-auth.js';
import type { OAuthClient } from './clients.js';
import type { ExternalSubjects } from './external-subjects.js';
import { OAuthError } from './oauth-error.js';
import type { SigningKeys } from './signing-keys.js';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const PERSON = /^[A-Za-z0-9._@-]{1,64}$/;
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

/** What the token endpoint needs. */
export interface TokenEndpointOptions {
  issuer: () => string;
  keys: SigningKeys;
  authenticator: ClientAuthenticator;
  /** Access token lifetime in seconds (short by design). */
  tokenTtlSec: number;
  /** The verdict of the registry on a client's agent, when it knows it (suspended or retired agents get no tokens). */
  isActive?: (client: OAuthClient) => Promise<boolean>;
  /** The scopes a person may be given at the dev login (their roles); absent: whatever the client may obtain. */
  userScopes?: (user: string) => string[];
  /** A person's roles at the dev login, issued in the token's `roles` claim (and kept through token exchange). */
  userRoles?: (user: string) => string[];
  /** The file that says who may call a workload (its client registration's policy_file), named when a caller is refused. */
  policyFileOf?: (audience: string) => string | undefined;
  /** Whether a name is a registered client's id (the dev login refuses those as a person's name). */
  isClientId?: (name: string) => boolean;
  /** The audience a service's tokens carry (AGENTMESH_OAUTH_AUDIENCE / _AUDIENCES); default: the service name. */
  audienceOf?: AudienceOf;
  /** The registered clients' ids: the services a client registered for any audience ("*") may name by audience. */
  clientIds?: () => string[];
  /** Enterprise identity providers whose tokens are accepted as subject tokens (AGENTMESH_OAUTH_TRUST_FILE). */
  external?: ExternalSubjects;
  log: Logger;
  /** Where every issued token is recorded (who got it, for whom, for which audience); a token is handed out only once its record is durable. */
  audit?: AuditLog;
}

/** A successful token response (RFC 6749 §5.1, RFC 8693 §2.2.1). */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  issued_token_type?: string;
}

function subjectOf(client: OAuthClient): string {
  return client.subject ?? client.client_id;
}

function grantScopes(requested: string | null, allowed: string[]): string[] {
  if (!requested) return allowed;
  const asked = requested.split(' ').filter(Boolean);
  const refused = asked.filter((s) => !allowed.includes(s));
  if (refused.length) throw new OAuthError('invalid_scope', `scope not allowed: ${refused.join(' ')}`);
  return asked;
}

/** The acting chain of an `act` claim, the current actor first. */
function actorsOf(act: Record<string, unknown> | undefined): string[] | undefined {
  const actors: string[] = [];
  for (let a = act; a && typeof a.sub === 'string'; a = a.act as Record<string, unknown> | undefined)
    actors.push(a.sub);
  return actors.length ? actors : undefined;
}

/** The service a token is for, and the audience it carries under the audience scheme. */
interface Target {
  service: string;
  audience: string;
}

/** The client credentials and token exchange grants of the local authorization server. */
export class TokenEndpoint {
  constructor(private readonly options: TokenEndpointOptions) {}

  /** Handles one token request; throws OAuthError for refusals. */
  async handle(form: URLSearchParams, authorization: string | undefined): Promise<TokenResponse> {
    const grant = form.get('grant_type');
    if (grant !== 'client_credentials' && grant !== TOKEN_EXCHANGE) {
      throw new OAuthError('unsupported_grant_type', `grant_type ${grant ?? '(missing)'} is not supported`);
    }
    const client = await this.options.authenticator.authenticate(form, authorization);
    await this.requireActive(client);
    const target = this.targetOf(form, client);
    if (grant === 'client_credentials') {
      if (!client.client_credentials)
        throw new OAuthError('unauthorized_client', 'client may only obtain tokens for people');
      const scopes = grantScopes(form.get('scope'), client.scopes);
      return this.issue({ sub: subjectOf(client), client, target, scopes });
    }
    return this.exchange(form, client, target);
  }

  private audienceOf(service: string): string {
    return this.options.audienceOf ? this.options.audienceOf(service) : service;
  }

  /**
   * The service a request is for and the audience its token carries: `audience` or RFC 8707
   * `resource` names the service, or its audience under the scheme; clients are registered
   * for service names.
   */
  private targetOf(form: URLSearchParams, client: OAuthClient): Target {
    const asked = form.get('audience') ?? form.get('resource');
    if (!asked) throw new OAuthError('invalid_target', 'audience (or resource) is required: name the service to call');
    const any = client.audiences.includes('*');
    const candidates = client.audiences.filter((a) => a !== '*');
    if (any) candidates.push(...(this.options.clientIds?.() ?? []));
    const service =
      candidates.find((s) => s === asked) ??
      candidates.find((s) => this.audienceOf(s) === asked) ??
      (any && /^[a-z0-9-]+\/[a-z0-9-]+$/.test(asked) ? asked : undefined);
    if (!service) throw new OAuthError('invalid_target', this.notAnAudience(client, asked));
    const audience = this.audienceOf(service);
    const sharing = this.sharingAudience(service);
    if (sharing.length)
      throw new OAuthError(
        'invalid_target',
        `the audience ${audience} of ${service} is also that of ${sharing.join(', ')}: the audience scheme (AGENTMESH_OAUTH_AUDIENCE) must give each service its own`,
      );
    return { service, audience };
  }

  /** The other registered services whose tokens would carry `service`'s audience (a token for one would be accepted by all). */
  private sharingAudience(service: string): string[] {
    const audience = this.audienceOf(service);
    const audienceOf = (s: string) => {
      try {
        return this.audienceOf(s);
      } catch {
        return undefined; // a client id the scheme cannot map (not namespace/name under spiffe) is no service
      }
    };
    return (this.options.clientIds?.() ?? []).filter((s) => s !== service && audienceOf(s) === audience);
  }

  /** Why a client gets no token for an audience, pointing at the policy that must allow it when one is known. */
  private notAnAudience(client: OAuthClient, audience: string): string {
    const refused = `client ${client.client_id} may not obtain tokens for ${audience}`;
    // Asked by its audience under the scheme: the workload registered with that audience.
    const service =
      this.options.clientIds?.().find((s) => s !== audience && this.audienceOf(s) === audience) ?? audience;
    const policy = this.options.policyFileOf?.(service);
    if (!policy) return `${refused} (not among its registered audiences)`;
    // Workload names are "namespace/name"; their SPIFFE IDs are written this way in policy files.
    const [ns, name] = client.client_id.split('/');
    const caller = name ? `"spiffe://{trust_domain}/ns/${ns}/sa/${name}"` : client.client_id;
    return `${refused}: ${policy} does not list it among the callers of ${service}; add ${caller} to a rule's callers there, restart the mesh (npm start) and re-render (npm run render:istio)`;
  }

  private async requireActive(client: OAuthClient): Promise<void> {
    if (!client.enabled) throw new OAuthError('invalid_client', 'client is disabled', 401);
    if (client.lifecycle !== 'ACTIVE')
      throw new OAuthError('unauthorized_client', `client is ${client.lifecycle.toLowerCase()}`);
    if (this.options.isActive && !(await this.options.isActive(client))) {
      throw new OAuthError('unauthorized_client', 'client agent is not active in the registry');
    }
  }

  private async exchange(form: URLSearchParams, client: OAuthClient, target: Target): Promise<TokenResponse> {
    const subjectToken = form.get('subject_token');
    if (!subjectToken) {
      // Dev login: a trusted front end (console, CLI) obtains a token for a named person.
      const user = form.get('requested_subject');
      if (!user || !client.impersonation) throw new OAuthError('invalid_request', 'subject_token is required');
      // A person's name, never a workload's ("ns/name") or a client's own id: a front end must not
      // obtain, through the dev login, a token that names a service or itself.
      if (!PERSON.test(user) || this.options.isClientId?.(user))
        throw new OAuthError(
          'invalid_request',
          'requested_subject must name a person (letters, digits, . _ @ -), not a workload or client',
        );
      const entitled = this.options.userScopes?.(user);
      const scopes = grantScopes(
        form.get('scope'),
        entitled ? client.scopes.filter((s) => entitled.includes(s)) : client.scopes,
      );
      const roles = this.options.userRoles?.(user);
      return this.issue(
        { sub: user, client, target, scopes, roles, act: { sub: subjectOf(client) } },
        ACCESS_TOKEN_TYPE,
      );
    }
    if (!client.token_exchange) throw new OAuthError('unauthorized_client', 'client may not exchange tokens');
    const type = form.get('subject_token_type');
    if (type !== ACCESS_TOKEN_TYPE && type !== JWT_TOKEN_TYPE) {
      throw new OAuthError('invalid_request', 'subject_token_type must be an access token or JWT');
    }
    let iss: unknown;
    try {
      iss = decodeJwt(subjectToken).iss;
    } catch {
      throw new OAuthError('invalid_grant', 'subject_token is not a JWT');
    }
    if (iss !== this.options.issuer()) {
      if (typeof iss === 'string' && this.options.external?.trusts(iss))
        return this.exchangeExternal(form, client, target, subjectToken);
      throw new OAuthError(
        'invalid_grant',
        `subject_token issuer ${String(iss)} is not trusted (neither this server nor an issuer of AGENTMESH_OAUTH_TRUST_FILE)`,
      );
    }
    let subject: JWTPayload;
    try {
      ({ payload: subject } = await jwtVerify(subjectToken, createLocalJWKSet(await this.options.keys.jwks()), {
        issuer: this.options.issuer(),
        algorithms: ['ES256', 'ES384', 'RS256', 'EdDSA'],
        typ: 'at+jwt',
      }));
    } catch {
      throw new OAuthError('invalid_grant', 'subject_token is invalid or expired');
    }
    // An agent may only act on tokens that were given to it (named by its service or its audience under the scheme).
    const aud = Array.isArray(subject.aud) ? subject.aud : [subject.aud];
    const own = [subjectOf(client), client.client_id].flatMap((s) => [s, this.audienceOf(s)]);
    if (!aud.some((a) => a !== undefined && own.includes(a)) || this.sharingAudience(subjectOf(client)).length) {
      throw new OAuthError('invalid_grant', 'subject_token was not issued to the exchanging client');
    }
    const mapped = mapClaims(subject, PRESETS.agentmesh.claims);
    const available = mapped.scopes.filter((s) => client.scopes.includes(s));
    const scopes = grantScopes(form.get('scope'), available);
    const act = { sub: subjectOf(client), ...(subject.act ? { act: subject.act } : {}) };
    // A person's roles travel with the delegation: an auditor stays an auditor down a chain of agents.
    // (Its `roles` and `groups`, array or space-separated, as the mesh reads them: issued as `roles`.)
    const held = mapped.roles;
    const roles = held.length ? held : undefined;
    // Delegation never outlives the token it came from, however often it is exchanged.
    return this.issue(
      { sub: String(subject.sub), client, target, scopes, roles, act, notAfter: subject.exp },
      ACCESS_TOKEN_TYPE,
    );
  }

  /**
   * On-behalf-of with an enterprise identity provider: a person's token from a trusted external
   * issuer, addressed to the exchanging client, becomes a mesh token for the person (its subject,
   * roles and scopes read with that issuer's claim mapping) with the client as the actor.
   */
  private async exchangeExternal(
    form: URLSearchParams,
    client: OAuthClient,
    target: Target,
    subjectToken: string,
  ): Promise<TokenResponse> {
    const external = this.options.external!;
    const { issuer, principal, claims, delegatedScopes } = await external.verify(subjectToken, subjectOf(client));
    // The issuer's clock tolerance may let a just-expired token through: the delegation would outlive it.
    if (typeof claims.exp !== 'number' || claims.exp <= Date.now() / 1000)
      throw new OAuthError('invalid_grant', `subject_token from ${issuer} has expired`);
    const sharing = external.sharing(issuer, subjectOf(client), this.options.clientIds?.() ?? []);
    if (sharing.length)
      throw new OAuthError(
        'invalid_grant',
        `subject tokens of ${issuer} for ${subjectOf(client)} carry the audience of ${sharing.join(', ')} too: give each service its own audience in that issuer's scheme (AGENTMESH_OAUTH_TRUST_FILE)`,
      );
    // On-behalf-of is for people: a workload's own token at the IdP is not a person's.
    if (principal.workload)
      throw new OAuthError('invalid_grant', `subject_token from ${issuer} is a workload's own token, not a person's`);
    // An IdP-side delegation chain would vanish behind this agent: only a person's own token.
    if (claims.act !== undefined)
      throw new OAuthError('invalid_grant', 'subject_token already carries a delegation (act)');
    // The person's subject must not pass for a workload or a client of this server.
    if (
      principal.subject.includes('/') ||
      principal.subject.startsWith('spiffe:') ||
      this.options.isClientId?.(principal.subject)
    )
      throw new OAuthError('invalid_grant', `subject_token from ${issuer} names a workload or client, not a person`);
    // Delegated scopes only: a person's app roles (Entra `roles`) are roles, never scopes.
    const available = delegatedScopes.filter((s) => client.scopes.includes(s));
    const scopes = grantScopes(form.get('scope'), available);
    const roles = principal.roles.length ? principal.roles : undefined;
    return this.issue(
      { sub: principal.subject, client, target, scopes, roles, act: { sub: subjectOf(client) }, notAfter: claims.exp },
      ACCESS_TOKEN_TYPE,
    );
  }

  private async issue(
    t: {
      sub: string;
      client: OAuthClient;
      target: Target;
      scopes: string[];
      roles?: string[];
      act?: Record<string, unknown>;
      notAfter?: number;
    },
    issuedTokenType?: string,
  ): Promise<TokenResponse> {
    const key = this.options.keys.active;
    const now = Math.floor(Date.now() / 1000);
    const ttl = Math.max(1, Math.min(this.options.tokenTtlSec, (t.notAfter ?? Infinity) - now));
    const token = await new SignJWT({
      client_id: t.client.client_id,
      scope: t.scopes.join(' '),
      ...(t.roles ? { roles: t.roles } : {}),
      ...(t.act ? { act: t.act } : {}),
    })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
      .setIssuer(this.options.issuer())
      .setSubject(t.sub)
      .setAudience(t.target.audience)
      .setIssuedAt()
      .setExpirationTime(now + ttl)
      .setJti(randomUUID())
      .sign(key.privateKey);
    this.options.log.info(
      {
        client: t.client.client_id,
        sub: t.sub,
        aud: t.target.audience,
        scope: t.scopes.join(' '),
        kid: key.kid,
        exchange: !!t.act,
      },
      'token issued',
    );
    await this.options.audit?.append({
      kind: 'token_issued',
      service: 'agentmesh/auth',
      subject: t.sub,
      actors: actorsOf(t.act),
      peer: t.client.client_id,
      resource: t.target.service,
      outcome: 'OK',
      reason: t.scopes.length ? `scopes ${t.scopes.join(' ')}` : undefined,
    });
    return {
      access_token: token,
      token_type: 'Bearer',
      expires_in: ttl,
      scope: t.scopes.join(' '),
      ...(issuedTokenType ? { issued_token_type: issuedTokenType } : {}),
    };
  }
}
