// Logging a person in at the mesh's external issuer (mesh.json `people`) from a terminal: the OAuth 2.0
// device authorization grant (RFC 8628), then one access token per service by refresh_token grant with
// the service's audience as `resource` (RFC 8707). The refresh token lives in the mesh home, mode 0600,
// and is never printed; access tokens are cached beside it until shortly before they expire.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  audienceFields,
  audienceScheme,
  issuerMetadata,
  postTokenForm,
  PRESETS,
  writePrivateFile,
  type AudienceRequest,
  type PresetName,
  type TokenAnswer,
} from '../../mesh/index.js';
import type { MeshFile, PeopleIssuer } from '../launcher/launcher.js';
import { CliError } from './cli-error.js';

const LOGIN_FILE = 'people-login.json';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** What `agentmesh login` keeps: the refresh token and the access tokens got with it. */
interface StoredLogin {
  issuer: string;
  clientId: string;
  refreshToken: string;
  /** Per audience: the access token and when it expires (ms since the epoch). */
  tokens: Record<string, { token: string; expiresAt: number }>;
}

interface Endpoints {
  token_endpoint?: string;
  device_authorization_endpoint?: string;
}

const loginPath = (home: string) => join(home, LOGIN_FILE);
const caOf = (people: PeopleIssuer) => (people.ca ? readFileSync(people.ca, 'utf8') : undefined);

/** The audiences of the mesh's services under the people audience scheme, one each, registry first. */
export function peopleAudiences(file: MeshFile, people: PeopleIssuer): string[] {
  const audienceOf = audienceScheme(people.audience, file.trustDomain);
  const services = file.services.filter((s) => s.kind !== 'auth' && s.kind !== 'console');
  services.sort((a, b) => Number(b.kind === 'registry') - Number(a.kind === 'registry'));
  return [...new Set(services.map((s) => audienceOf(s.name)))];
}

async function endpoints(people: PeopleIssuer): Promise<Required<Endpoints>> {
  let meta: Endpoints;
  try {
    meta = (await issuerMetadata(people.issuer, caOf(people), 'AGENTMESH_PEOPLE_ISSUER')) as Endpoints;
  } catch (err) {
    throw new CliError(`cannot reach the people issuer ${people.issuer}: ${(err as Error).message}`);
  }
  if (!meta.token_endpoint || !meta.device_authorization_endpoint)
    throw new CliError(
      `${people.issuer} offers no device login (its metadata names no ${meta.token_endpoint ? 'device_authorization_endpoint' : 'token_endpoint'})`,
    );
  return meta as Required<Endpoints>;
}

const post = (url: string, people: PeopleIssuer, form: URLSearchParams) => postTokenForm(url, form, caOf(people));

const describe = (a: TokenAnswer) =>
  printable(`${a.error ?? `HTTP ${a.status}`}${a.error_description ? `: ${a.error_description}` : ''}`);

/** What the issuer wrote, safe for a terminal: no control characters (escape sequences), bounded. */
export const printable = (text: string) => text.replace(/\p{Cc}/gu, '?').slice(0, 500);

/**
 * The device authorization grant: asks for a user code, shows where to enter it (`show`), then polls
 * the token endpoint at the interval the issuer asks (slower after slow_down) until the person has
 * logged in, refused, or the code expired. Stores the refresh token; returns nothing secret.
 */
/** How the people issuer expects an audience named (its preset's request style). */
function requestOf(preset: string): readonly AudienceRequest[] {
  return (PRESETS[preset as PresetName] ?? PRESETS.rfc9068).request;
}

export async function deviceLogin(
  file: MeshFile,
  home: string,
  show: (verificationUri: string, userCode: string, complete: string | undefined) => void,
): Promise<void> {
  const people = file.people!;
  const { device_authorization_endpoint, token_endpoint } = await endpoints(people);
  const resources = peopleAudiences(file, people);
  const request = requestOf(people.preset);
  const form = new URLSearchParams([
    ['client_id', people.clientId],
    ...audienceFields(request, resources[0], people.scopes, true),
  ]);
  // RFC 8707 lets one grant cover every resource; each token still names one.
  if (request.includes('resource')) for (const r of resources.slice(1)) form.append('resource', r);
  const started = (await post(device_authorization_endpoint, people, form)) as TokenAnswer & {
    device_code?: string;
    user_code?: string;
    verification_uri?: string;
    verification_uri_complete?: string;
    interval?: number;
    expires_in?: number;
  };
  if (started.status !== 200 || !started.device_code || !started.user_code || !started.verification_uri)
    throw new CliError(`${people.issuer} refused to start a device login: ${describe(started)}`);
  show(
    printable(started.verification_uri),
    printable(started.user_code),
    started.verification_uri_complete && printable(started.verification_uri_complete),
  );
  let interval = (started.interval ?? 5) * 1000;
  const until = Date.now() + (started.expires_in ?? 600) * 1000;
  for (;;) {
    await new Promise((r) => setTimeout(r, interval));
    const poll = new URLSearchParams({
      grant_type: DEVICE_GRANT,
      device_code: started.device_code,
      client_id: people.clientId,
    });
    // One resource per token request: the first (the registry's); the others come by refresh token.
    if (resources[0] && request.includes('resource')) poll.set('resource', resources[0]);
    const answer = await post(token_endpoint, people, poll);
    if (answer.status === 200 && answer.refresh_token) {
      const stored: StoredLogin = {
        issuer: people.issuer,
        clientId: people.clientId,
        refreshToken: answer.refresh_token,
        tokens: {},
      };
      if (answer.access_token && resources[0])
        stored.tokens[resources[0]] = { token: answer.access_token, expiresAt: expiry(answer) };
      writePrivateFile(loginPath(home), `${JSON.stringify(stored)}\n`);
      return;
    }
    if (answer.status === 200)
      throw new CliError(
        `${people.issuer} gave no refresh token: its client ${people.clientId} needs offline_access and the refresh_token grant`,
      );
    if (answer.error === 'authorization_pending' && Date.now() < until) continue;
    if (answer.error === 'slow_down' && Date.now() < until) {
      interval += 5_000;
      continue;
    }
    if (answer.error === 'access_denied') throw new CliError('login refused: access denied at the people issuer');
    if (answer.error === 'expired_token' || answer.error === 'authorization_pending' || answer.error === 'slow_down')
      throw new CliError('login expired: the code was not entered in time; run agentmesh login again');
    throw new CliError(`login failed at ${people.issuer}: ${describe(answer)}`);
  }
}

/** Access tokens last their expires_in less a minute, so that none expires on its way to a service. */
const expiry = (a: TokenAnswer) => Date.now() + Math.max(0, (a.expires_in ?? 300) - 60) * 1000;

/** Forgets the login; true when there was one. */
export function logout(home: string): boolean {
  const existed = existsSync(loginPath(home));
  rmSync(loginPath(home), { force: true });
  return existed;
}

/** Access tokens for the logged-in person, one per service, by refresh_token grant with `resource`. */
export class PeopleTokens {
  /** Token requests one after another: the issuer may rotate the refresh token with each. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly file: MeshFile,
    private readonly home: string,
  ) {}

  /** An access token for `service` (mesh name), from the cache or the issuer. */
  accessToken(service: string): Promise<string> {
    const next = this.queue.then(() => this.fetch(service));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private read(): StoredLogin {
    const people = this.file.people!;
    const path = loginPath(this.home);
    if (!existsSync(path)) throw new CliError(`not logged in: run agentmesh login (people log in at ${people.issuer})`);
    let stored: StoredLogin;
    try {
      stored = JSON.parse(readFileSync(path, 'utf8')) as StoredLogin;
    } catch {
      // Never the parser's message: it quotes the file, which holds the refresh token.
      throw new CliError(`${path} is damaged: run agentmesh logout, then agentmesh login`);
    }
    if (stored.issuer !== people.issuer || stored.clientId !== people.clientId)
      throw new CliError(
        `not logged in at ${people.issuer} (the login kept is for ${stored.issuer}): run agentmesh login`,
      );
    return stored;
  }

  private async fetch(service: string): Promise<string> {
    const people = this.file.people!;
    const stored = this.read();
    const audience = audienceScheme(people.audience, this.file.trustDomain)(service);
    const cached = stored.tokens[audience];
    if (cached && cached.expiresAt > Date.now()) return cached.token;
    const { token_endpoint } = await endpoints(people);
    const answer = await post(
      token_endpoint,
      people,
      new URLSearchParams([
        ['grant_type', 'refresh_token'],
        ['refresh_token', stored.refreshToken],
        ['client_id', people.clientId],
        ...audienceFields(requestOf(people.preset), audience, []),
      ]),
    );
    if (answer.error === 'invalid_grant') {
      logout(this.home);
      throw new CliError('login expired: run agentmesh login again');
    }
    if (answer.status !== 200 || !answer.access_token)
      throw new CliError(`${people.issuer} gave no token for ${service} (${audience}): ${describe(answer)}`);
    if (answer.refresh_token) stored.refreshToken = answer.refresh_token;
    stored.tokens[audience] = { token: answer.access_token, expiresAt: expiry(answer) };
    writePrivateFile(loginPath(this.home), `${JSON.stringify(stored)}\n`);
    return answer.access_token;
  }
}
