// Signing people in at the mesh's external issuer (npm start with AGENTMESH_PEOPLE_ISSUER): the
// authorization code grant with PKCE and state, the console as a public client. The refresh token
// stays on the server, in the person's session; the page never sees a token. Every call is made
// with an access token for the callee's audience, got by refresh_token grant with `resource` (RFC 8707).
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { decodeJwt } from 'jose';
import {
  audienceFields,
  mapClaims,
  postTokenForm,
  PRESETS,
  type PeopleIssuer,
  type PresetName,
  type TokenAnswer,
} from '../../../mesh/index.js';
import { audienceScheme, ConfigError, issuerMetadata } from '../../../mesh/index.js';
import { HttpError } from './http-errors.js';

/** What the launcher writes for the console (AGENTMESH_CONSOLE_PEOPLE_FILE): the people issuer and the audiences to ask for. */
export interface PeopleSettings extends PeopleIssuer {
  /** Every audience the console may call for a person (the resources of the authorization request). */
  audiences: string[];
}

/** A person's login at the people issuer, kept in their session. */
export interface PeopleGrant {
  refreshToken: string;
  tokens: Map<string, { token: string; expiresAt: number }>;
  /** Token requests one after another: the issuer may rotate the refresh token with each. */
  queue: Promise<unknown>;
}

/** The person a finished sign-in names, with what their token grants (shown, never trusted). */
export interface SignedIn {
  user: string;
  scopes: string[];
  roles: string[];
  grant: PeopleGrant;
}

interface Pending {
  verifier: string;
  at: number;
}

/** A sign-in not finished within this time is forgotten. */
const PENDING_MS = 10 * 60_000;
/** At most this many sign-ins wait for the issuer at once. */
const MAX_PENDING = 1_000;
const expiry = (a: TokenAnswer) => Date.now() + Math.max(0, (a.expires_in ?? 300) - 60) * 1000;

/** Reads AGENTMESH_CONSOLE_PEOPLE_FILE. */
export function readPeopleSettings(file: string): PeopleSettings {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PeopleSettings;
  } catch (err) {
    throw new ConfigError('AGENTMESH_CONSOLE_PEOPLE_FILE', `is not readable JSON (${file}: ${(err as Error).message})`);
  }
}

/** Sign-in at the people issuer and the tokens of signed-in people. */
export class PeopleSignIn {
  private readonly pending = new Map<string, Pending>();
  private readonly ca: string | undefined;
  private meta: Promise<{ authorization_endpoint?: string; token_endpoint?: string }> | undefined;

  constructor(
    readonly settings: PeopleSettings,
    private readonly trustDomain: string,
    /** The console's callback URL (…/auth/callback), registered at the issuer. */
    private readonly redirectUri: () => string,
  ) {
    this.ca = settings.ca ? readFileSync(settings.ca, 'utf8') : undefined;
  }

  /** The people issuer's preset: how its tokens are read and how an audience is asked for. */
  private preset() {
    return PRESETS[this.settings.preset as PresetName] ?? PRESETS.rfc9068;
  }

  private endpoints() {
    this.meta ??= issuerMetadata(this.settings.issuer, this.ca, 'AGENTMESH_PEOPLE_ISSUER').catch((err: unknown) => {
      this.meta = undefined;
      throw err;
    });
    return this.meta;
  }

  /** Where to send the browser: the issuer's authorization endpoint, and the state to bind to the browser. */
  async start(): Promise<{ location: string; state: string }> {
    const { authorization_endpoint } = await this.endpoints();
    if (!authorization_endpoint)
      throw new HttpError(503, 'UNAVAILABLE', `${this.settings.issuer} names no authorization_endpoint`);
    for (const [k, p] of this.pending) if (Date.now() - p.at > PENDING_MS) this.pending.delete(k);
    // Anyone may start a sign-in: a bounded number wait, the oldest forgotten first.
    if (this.pending.size >= MAX_PENDING) this.pending.delete(this.pending.keys().next().value!);
    const state = randomBytes(24).toString('base64url');
    const verifier = randomBytes(32).toString('base64url');
    this.pending.set(state, { verifier, at: Date.now() });
    const request = this.preset().request;
    const query = new URLSearchParams([
      ['client_id', this.settings.clientId],
      ['redirect_uri', this.redirectUri()],
      ['response_type', 'code'],
      ...audienceFields(request, this.settings.audiences[0], this.settings.scopes, true),
      ['code_challenge', createHash('sha256').update(verifier).digest('base64url')],
      ['code_challenge_method', 'S256'],
      ['state', state],
      // OpenID Connect Core §11: offline_access (a refresh token) is granted only with prompt=consent.
      ['prompt', 'consent'],
    ]);
    // RFC 8707 lets one grant cover every resource; each token still names one.
    if (request.includes('resource')) for (const a of this.settings.audiences.slice(1)) query.append('resource', a);
    return { location: `${authorization_endpoint}?${query}`, state };
  }

  /** The issuer sent the browser back: checks the state against the browser's, redeems the code. */
  async finish(query: URLSearchParams, browserState: string | undefined): Promise<SignedIn> {
    const state = query.get('state') ?? '';
    const pending = this.pending.get(state);
    this.pending.delete(state);
    if (!pending || state !== browserState || Date.now() - pending.at > PENDING_MS)
      throw new HttpError(400, 'INVALID_ARGUMENT', 'this sign-in is unknown or too old: sign in again');
    const error = query.get('error');
    if (error)
      throw new HttpError(
        403,
        'PERMISSION_DENIED',
        `${this.settings.issuer} did not sign you in: ${error}${query.get('error_description') ? ` (${query.get('error_description')})` : ''}`,
      );
    const code = query.get('code');
    if (!code) throw new HttpError(400, 'INVALID_ARGUMENT', 'the issuer sent no code');
    const first = this.settings.audiences[0];
    const answer = await this.post({
      grant_type: 'authorization_code',
      code,
      redirect_uri: this.redirectUri(),
      code_verifier: pending.verifier,
      client_id: this.settings.clientId,
      ...(first && this.preset().request.includes('resource') ? { resource: first } : {}),
    });
    if (answer.status !== 200 || !answer.access_token || !answer.refresh_token)
      throw new HttpError(
        403,
        'PERMISSION_DENIED',
        `${this.settings.issuer} gave no tokens: ${answer.error ?? `HTTP ${answer.status}`}`,
      );
    // Read, not verified: the token came straight from the issuer over TLS, and is shown only; services verify it.
    const mapped = mapClaims(decodeJwt(answer.access_token), this.preset().claims);
    if (!mapped.subject) throw new HttpError(403, 'PERMISSION_DENIED', 'the issuer’s token names no subject');
    const grant: PeopleGrant = { refreshToken: answer.refresh_token, tokens: new Map(), queue: Promise.resolve() };
    if (first) grant.tokens.set(first, { token: answer.access_token, expiresAt: expiry(answer) });
    return { user: mapped.subject, scopes: mapped.scopes, roles: mapped.roles, grant };
  }

  /** An access token for `service` (mesh name) for the person of `grant`. */
  accessToken(grant: PeopleGrant, service: string): Promise<string> {
    const next = grant.queue.then(() => this.fetch(grant, service));
    grant.queue = next.catch(() => undefined);
    return next;
  }

  private async fetch(grant: PeopleGrant, service: string): Promise<string> {
    const audience = audienceScheme(this.settings.audience, this.trustDomain)(service);
    const cached = grant.tokens.get(audience);
    if (cached && cached.expiresAt > Date.now()) return cached.token;
    const answer = await this.post({
      grant_type: 'refresh_token',
      refresh_token: grant.refreshToken,
      client_id: this.settings.clientId,
      ...Object.fromEntries(audienceFields(this.preset().request, audience, [])),
    });
    if (answer.error === 'invalid_grant')
      throw new HttpError(401, 'UNAUTHENTICATED', 'your sign-in has expired: sign in again');
    if (answer.status !== 200 || !answer.access_token)
      throw new HttpError(
        403,
        'PERMISSION_DENIED',
        `${this.settings.issuer} gave no token for ${service}: ${answer.error ?? `HTTP ${answer.status}`}`,
      );
    if (answer.refresh_token) grant.refreshToken = answer.refresh_token;
    grant.tokens.set(audience, { token: answer.access_token, expiresAt: expiry(answer) });
    return answer.access_token;
  }

  private async post(form: Record<string, string>): Promise<TokenAnswer> {
    const { token_endpoint } = await this.endpoints();
    if (!token_endpoint) throw new HttpError(503, 'UNAVAILABLE', `${this.settings.issuer} names no token_endpoint`);
    return postTokenForm(token_endpoint, new URLSearchParams(form), this.ca);
  }
}
