// An enterprise identity provider for tests: oidc-provider (the certified OpenID provider from npm)
// over HTTPS with a certificate from a test CA, issuing RFC 9068 JWT access tokens through
// resource indicators, reshaped as Entra ID, Okta or Keycloak shape theirs (claim names and the
// `typ` header, from each vendor's token reference), with people who log in through the
// provider's own login page (its development interactions: any password).
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type ClientMetadata } from 'oidc-provider';

/** Whose access-token shape the provider imitates. */
export type IdpShape = 'rfc9068' | 'entra' | 'okta' | 'keycloak';

/** Options of a test identity provider. */
export interface IdpOptions {
  /** TLS certificate and key files of the provider (e.g. LocalMeshFiles.issue('agentmesh/idp')), and the CA file they chain to. */
  tls: { cert: string; key: string; ca: string };
  shape?: IdpShape;
  clients: ClientMetadata[];
  /** People who may log in: their roles (Entra `roles`, Okta `groups`, Keycloak `realm_access.roles`). */
  people?: Record<string, { roles?: string[] }>;
  /** Application permissions of clients (Entra app roles in `roles` of app-only tokens). */
  appRoles?: Record<string, string[]>;
  /** Scopes a resource server offers (default: the mesh's usual scopes). */
  scopes?: string[];
  /** Signing algorithm of access tokens (default ES256; RS256 also has a key). */
  alg?: 'ES256' | 'RS256';
  /** Access token lifetime, seconds (default 300). */
  ttlSec?: number;
  /** The resource a request names none for (Okta's one audience per authorization server); Entra's `X/.default` scope names X. */
  defaultResource?: string;
  /** Publish OpenID Connect discovery only (as Entra ID): the RFC 8414 path answers 404. */
  oidcOnly?: boolean;
  /** Puts another issuer's identifier in `iss` of access tokens (a rogue provider, for issuer mix-up tests). */
  issClaim?: string;
  /** Offer the device authorization grant (RFC 8628) for terminals; see TestIdp.verifyDevice. */
  deviceFlow?: boolean;
}

/** A running test identity provider. */
export interface TestIdp {
  issuer: string;
  provider: Provider;
  tokenUrl: string;
  /** Logs `person` in through the provider's login page (authorization code + PKCE) and returns the token response. */
  login(
    person: string,
    o: { clientId: string; clientSecret?: string; redirectUri: string; resource?: string; scope?: string },
  ): Promise<Record<string, unknown>>;
  /**
   * What a person does in a browser for a device login (deviceFlow): enters `userCode` on the provider's
   * /device page, confirms (or, with `deny`, aborts), and logs in and consents as `person`.
   */
  verifyDevice(person: string, userCode: string, o?: { deny?: boolean }): Promise<void>;
  /** A token request at the token endpoint with a client secret (form fields as given). */
  token(clientId: string, secret: string, form: Record<string, string>): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

const MESH_SCOPES = ['task.read', 'task.write', 'tools.invoke', 'registry.read', 'registry.write', 'explain.read'];

interface Answer {
  status: number;
  location?: string;
  cookies: string[];
  body: string;
}

/** One HTTPS request trusting `ca`, with the raw Set-Cookie list (the mesh's client joins headers). */
function send(url: string, ca: string, o: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  return new Promise<Answer>((resolve, reject) => {
    const req = request(url, { method: o.method ?? 'GET', headers: o.headers, ca, servername: '' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          location: res.headers.location,
          cookies: res.headers['set-cookie'] ?? [],
          body,
        }),
      );
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

/** Reshapes a JWT access token as `shape`'s issuer would have issued it. */
function reshape(
  shape: IdpShape,
  jwt: { header: Record<string, unknown> | undefined; payload: Record<string, unknown> },
  people: IdpOptions['people'],
  appRoles: IdpOptions['appRoles'],
) {
  const p = jwt.payload;
  const person = typeof p.sub === 'string' && p.sub !== p.client_id ? p.sub : undefined;
  const roles = person ? (people?.[person]?.roles ?? []) : (appRoles?.[String(p.client_id)] ?? []);
  const scopes = typeof p.scope === 'string' ? p.scope.split(' ').filter((s) => s && !s.endsWith('/.default')) : [];
  if (shape === 'entra') {
    jwt.header = { ...jwt.header, typ: 'JWT' };
    // `sub` is pairwise per application in Entra; `oid` is the same person everywhere.
    p.oid = person ?? `sp-${String(p.client_id)}`;
    p.sub = createHash('sha256')
      .update(`${String(p.oid)}|${String(p.aud)}`)
      .digest('base64url');
    p.azp = p.client_id;
    p.tid = '72f988bf-86f1-41af-91ab-2d7cd011db47';
    p.ver = '2.0';
    if (person && scopes.length) p.scp = scopes.join(' ');
    if (roles.length) p.roles = roles;
    delete p.scope;
    delete p.client_id;
  } else if (shape === 'okta') {
    jwt.header = { ...jwt.header, typ: 'JWT' };
    p.scp = scopes;
    p.cid = p.client_id;
    if (person) p.uid = `00u${createHash('sha256').update(person).digest('hex').slice(0, 17)}`;
    if (roles.length) p.groups = roles;
    delete p.scope;
    delete p.client_id;
  } else if (shape === 'keycloak') {
    jwt.header = { ...jwt.header, typ: 'JWT' };
    p.typ = 'Bearer';
    p.azp = p.client_id;
    // A client's own token names its service-account user, whose id is not the client id.
    p.preferred_username = person ?? `service-account-${String(p.client_id)}`;
    if (!person) p.sub = createHash('sha256').update(String(p.client_id)).digest('hex').slice(0, 32);
    p.realm_access = { roles: roles.length ? roles : ['default-roles-bank'] };
    delete p.client_id;
  } else if (roles.length) {
    p.roles = roles;
  }
}

/** Starts the provider on 127.0.0.1, port 0. */
export async function startIdp(options: IdpOptions): Promise<TestIdp> {
  const ca = readFileSync(options.tls.ca, 'utf8');
  const shape = options.shape ?? 'rfc9068';
  const app: { handle?: ReturnType<Provider['callback']> } = {};
  const server: Server = createServer(
    { cert: readFileSync(options.tls.cert), key: readFileSync(options.tls.key) },
    (req, res) => {
      if (options.oidcOnly && req.url?.startsWith('/.well-known/oauth-authorization-server'))
        return void res.writeHead(404).end();
      void app.handle!(req, res);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const keys = await Promise.all(
    (['ES256', 'RS256'] as const).map(async (alg) => {
      const { privateKey } = await generateKeyPair(alg, { extractable: true });
      return { ...(await exportJWK(privateKey)), alg, use: 'sig', kid: `${alg.toLowerCase()}-1` };
    }),
  );
  const scope = [...(options.scopes ?? MESH_SCOPES)];
  const provider = new Provider(issuer, {
    clients: options.clients,
    jwks: { keys },
    findAccount: (_ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
    scopes: ['openid', 'offline_access', ...scope],
    ttl: { AccessToken: options.ttlSec ?? 300, ClientCredentials: options.ttlSec ?? 300 },
    pkce: { required: () => true },
    features: {
      clientCredentials: { enabled: true },
      devInteractions: { enabled: true },
      deviceFlow: { enabled: options.deviceFlow ?? false },
      introspection: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: (ctx, _client, oneOf) => {
          if (oneOf) return oneOf;
          const requested = String((ctx.oidc.params as Record<string, unknown> | undefined)?.scope ?? '');
          const dflt = /(\S+)\/\.default\b/.exec(requested);
          return dflt ? dflt[1]! : (options.defaultResource ?? (undefined as unknown as string));
        },
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => ({
          scope: [...scope, `${resource}/.default`].join(' '),
          audience: resource,
          accessTokenFormat: 'jwt',
          accessTokenTTL: options.ttlSec ?? 300,
          jwt: { sign: { alg: options.alg ?? 'ES256' } },
        }),
      },
    },
    formats: {
      customizers: {
        jwt: (_ctx, _token, jwt) => {
          reshape(shape, jwt as never, options.people, options.appRoles);
          if (options.issClaim) (jwt as { payload: Record<string, unknown> }).payload.iss = options.issClaim;
        },
      },
    },
    // Consent is the enterprise's business, not the test's: every grant asked for is given.
    loadExistingGrant: async (ctx) => {
      const grantId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session!.grantIdFor(ctx.oidc.client!.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client!.clientId,
        accountId: ctx.oidc.session!.accountId,
      });
      grant.addOIDCScope('openid offline_access');
      for (const r of [ctx.oidc.params?.resource].flat().filter(Boolean) as string[])
        grant.addResourceScope(r, [...scope, `${r}/.default`].join(' '));
      await grant.save();
      return grant;
    },
  });
  provider.on('server_error', (_ctx, err) => console.error('test IdP server error', err));
  app.handle = provider.callback();
  const tokenUrl = `${issuer}/token`;

  async function token(clientId: string, secret: string, form: Record<string, string>) {
    const answer = await send(tokenUrl, ca, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`,
      },
      body: new URLSearchParams(form).toString(),
    });
    return { status: answer.status, ...(JSON.parse(answer.body) as Record<string, unknown>) };
  }

  /** A browser's cookie jar, as far as the provider's pages need one. */
  function cookieJar() {
    const jar = new Map<string, string>();
    const keep = (a: Answer) => {
      for (const c of a.cookies) {
        const [pair] = c.split(';');
        const at = pair!.indexOf('=');
        jar.set(pair!.slice(0, at), pair!.slice(at + 1));
      }
      return a;
    };
    const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    return { keep, cookie };
  }

  /** Follows redirects from `at`, answering the login and consent pages as `person`, until `done` or no redirect. */
  async function interact(
    person: string,
    start: Answer,
    { keep, cookie }: ReturnType<typeof cookieJar>,
    done: (location: string) => boolean,
  ) {
    let at = start;
    for (let hops = 0; hops < 10 && at.location && !done(at.location); hops++) {
      const url = new URL(at.location, issuer).toString();
      at = keep(await send(url, ca, { headers: { cookie: cookie() } }));
      const prompt = /name="prompt" value="(login|consent)"/.exec(at.status === 200 ? at.body : '')?.[1];
      if (prompt)
        at = keep(
          await send(url, ca, {
            method: 'POST',
            headers: { cookie: cookie(), 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ prompt, login: person, password: 'any' }).toString(),
          }),
        );
    }
    return at;
  }

  async function verifyDevice(person: string, userCode: string, o: { deny?: boolean } = {}) {
    const jar = cookieJar();
    const form = async (fields: Record<string, string>) =>
      jar.keep(
        await send(`${issuer}/device`, ca, {
          method: 'POST',
          headers: { cookie: jar.cookie(), 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(fields).toString(),
        }),
      );
    const xsrfOf = (a: Answer) => /name="xsrf" value="([^"]+)"/.exec(a.body)?.[1];
    const page = jar.keep(await send(`${issuer}/device`, ca, { headers: { cookie: jar.cookie() } }));
    const confirm = await form({ xsrf: xsrfOf(page) ?? '', user_code: userCode });
    const xsrf = xsrfOf(confirm);
    if (confirm.status !== 200 || !xsrf)
      throw new Error(`device code ${userCode} refused: ${confirm.status} ${confirm.body}`);
    const answer = await form({ xsrf, user_code: userCode, ...(o.deny ? { abort: 'yes' } : { confirm: 'yes' }) });
    if (o.deny) return;
    const end = await interact(person, answer, jar, () => false);
    if (end.status !== 200 || !end.body.includes('Sign-in Success'))
      throw new Error(`device login did not finish: ${end.status} ${end.body.slice(0, 300)}`);
  }

  async function login(
    person: string,
    o: { clientId: string; clientSecret?: string; redirectUri: string; resource?: string; scope?: string },
  ) {
    const jar = cookieJar();
    const { keep, cookie } = jar;
    const verifier = randomBytes(32).toString('base64url');
    const query = new URLSearchParams({
      client_id: o.clientId,
      redirect_uri: o.redirectUri,
      response_type: 'code',
      scope: o.scope ?? 'openid offline_access',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      state: randomBytes(8).toString('hex'),
      // oidc-provider grants offline_access (a refresh token) only when consent is asked for.
      prompt: 'consent',
      ...(o.resource ? { resource: o.resource } : {}),
    });
    const first = keep(await send(`${issuer}/auth?${query}`, ca, { headers: { cookie: cookie() } }));
    const at = await interact(person, first, jar, (location) => location.startsWith(o.redirectUri));
    if (!at.location?.startsWith(o.redirectUri)) throw new Error(`login did not come back: ${at.status} ${at.body}`);
    const code = new URL(at.location).searchParams.get('code');
    if (!code) throw new Error(`login refused: ${at.location}`);
    const form: Record<string, string> = {
      grant_type: 'authorization_code',
      code,
      redirect_uri: o.redirectUri,
      code_verifier: verifier,
      ...(o.resource ? { resource: o.resource } : {}),
    };
    if (o.clientSecret) return token(o.clientId, o.clientSecret, form);
    const answer = await send(tokenUrl, ca, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form, client_id: o.clientId }).toString(),
    });
    return { status: answer.status, ...(JSON.parse(answer.body) as Record<string, unknown>) };
  }

  return {
    issuer,
    provider,
    tokenUrl,
    login,
    verifyDevice,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
