import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

/** An AppRole the double accepts at auth/<mount>/login. */
export interface DoubleAppRole {
  roleId: string;
  secretId: string;
  policies: string[];
  mount?: string;
}

/** A Kubernetes auth role the double accepts at auth/<mount>/login; `jwt` stands in for the TokenReview. */
export interface DoubleKubernetesRole {
  role: string;
  jwt: string;
  policies: string[];
  mount?: string;
}

/** Options for VaultDouble.start. */
export interface VaultDoubleOptions {
  /** TTL and max TTL (seconds) of tokens issued by logins; short, so renewal and re-login really happen. */
  loginTokenTtl?: number;
  loginTokenMaxTtl?: number;
  kvMount?: string;
  approle?: DoubleAppRole;
  kubernetes?: DoubleKubernetesRole;
  /** Serve HTTPS with this certificate instead of HTTP. */
  tls?: { cert: string; key: string };
}

interface Token {
  id: string;
  accessor: string;
  policies: string[];
  /** The TTL each renewal grants (seconds); 0 = never expires. */
  ttl: number;
  issuedAt: number;
  expiresAt: number;
  maxExpiresAt: number;
  renewable: boolean;
  path: string;
  meta: Record<string, string>;
}

type Reply = { status: number; body?: unknown };
type Rule = { path: string; capabilities: string[] };

const denied: Reply = { status: 403, body: { errors: ['permission denied'] } };
const fail = (status: number, ...errors: string[]): Reply => ({ status, body: { errors } });
const secondsOf = (v: unknown, fallback: number): number =>
  typeof v === 'number'
    ? v
    : typeof v === 'string' && /^\d+[smh]?$/.test(v)
      ? parseInt(v, 10) * ({ m: 60, h: 3600 }[v.slice(-1)] ?? 1)
      : fallback;

/** Vault's response envelope; every field a real response carries. */
function envelope(fields: Record<string, unknown>): Reply {
  return {
    status: 200,
    body: {
      request_id: randomUUID(),
      lease_id: '',
      renewable: false,
      lease_duration: 0,
      data: null,
      wrap_info: null,
      warnings: null,
      auth: null,
      mount_type: '',
      ...fields,
    },
  };
}

/**
 * An in-process stand-in for the parts of Vault's HTTP API the secrets layer
 * and its tests use: KV v2 read/write/delete-metadata, ACL policies (path
 * rules with a trailing *, deny wins, longest match), token create,
 * lookup-self and renew-self with TTLs that really expire and max TTLs that
 * cap renewals, AppRole and Kubernetes login. Shapes follow Vault's API docs.
 */
export class VaultDouble {
  readonly rootToken = `hvs.${randomBytes(18).toString('base64url')}`;
  /** Calls to auth/token/renew-self that succeeded. */
  renewCount = 0;
  /** Successful AppRole and Kubernetes logins. */
  loginCount = 0;
  private readonly tokens = new Map<string, Token>();
  private readonly policies = new Map<string, Rule[]>();
  private readonly kv = new Map<string, { data: Record<string, unknown>; created_time: string }[]>();

  private constructor(
    private readonly server: http.Server,
    private readonly options: VaultDoubleOptions,
    readonly address = '',
  ) {
    this.issue(
      { policies: ['root'], ttl: 0, maxTtl: 0, renewable: false, path: 'auth/token/root', meta: {} },
      this.rootToken,
    );
  }

  /** Starts the double on 127.0.0.1 with a free port. */
  static async start(options: VaultDoubleOptions = {}): Promise<VaultDouble> {
    const server = options.tls ? https.createServer(options.tls) : http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const double = new VaultDouble(server, options, `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`);
    server.on('request', (req, res) => void double.handle(req, res));
    return double;
  }

  /** Stops listening and drops every connection, keep-alive ones included. */
  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private issue(
    spec: {
      policies: string[];
      ttl: number;
      maxTtl: number;
      renewable: boolean;
      path: string;
      meta: Record<string, string>;
    },
    id?: string,
  ): Token {
    const now = Date.now();
    const token: Token = {
      id: id ?? `hvs.${randomBytes(18).toString('base64url')}`,
      accessor: randomBytes(12).toString('base64url'),
      policies: spec.policies,
      ttl: spec.ttl,
      issuedAt: now,
      expiresAt: spec.ttl ? now + spec.ttl * 1000 : 0,
      maxExpiresAt: spec.maxTtl ? now + spec.maxTtl * 1000 : 0,
      renewable: spec.renewable,
      path: spec.path,
      meta: spec.meta,
    };
    this.tokens.set(token.id, token);
    return token;
  }

  private authBlock(token: Token, leaseSeconds: number): Record<string, unknown> {
    const policies = token.policies.includes('root') ? ['root'] : ['default', ...token.policies];
    return {
      client_token: token.id,
      accessor: token.accessor,
      policies,
      token_policies: policies,
      metadata: token.meta,
      lease_duration: leaseSeconds,
      renewable: token.renewable,
      entity_id: '',
      token_type: 'service',
      orphan: true,
      mfa_requirement: null,
      num_uses: 0,
    };
  }

  private caller(req: http.IncomingMessage): Token | undefined {
    const token = this.tokens.get(String(req.headers['x-vault-token'] ?? ''));
    if (token?.expiresAt && Date.now() >= token.expiresAt) this.tokens.delete(token.id);
    return token && this.tokens.has(token.id) ? token : undefined;
  }

  private allowed(token: Token, path: string, capability: string): boolean {
    if (token.policies.includes('root')) return true;
    const rules = token.policies.flatMap((name) => this.policies.get(name) ?? []);
    const matching = rules.filter((r) =>
      r.path.endsWith('*') ? path.startsWith(r.path.slice(0, -1)) : path === r.path,
    );
    const longest = Math.max(-1, ...matching.map((r) => r.path.length));
    const caps = matching.filter((r) => r.path.length === longest).flatMap((r) => r.capabilities);
    return !caps.includes('deny') && caps.includes(capability);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body: Record<string, unknown> = {};
    let reply: Reply;
    try {
      if (chunks.length) body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      reply = this.route(req, body);
    } catch {
      reply = fail(400, 'failed to parse JSON input');
    }
    res.writeHead(reply.status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(reply.body === undefined ? undefined : JSON.stringify(reply.body));
  }

  private route(req: http.IncomingMessage, body: Record<string, unknown>): Reply {
    const url = new URL(req.url ?? '/', 'http://vault');
    const path = decodeURIComponent(url.pathname.replace(/^\/v1\//, ''));
    const method = req.method ?? 'GET';
    const { approle, kubernetes } = this.options;
    if (method === 'POST' && approle && path === `auth/${approle.mount ?? 'approle'}/login`)
      return this.approleLogin(approle, body);
    if (method === 'POST' && kubernetes && path === `auth/${kubernetes.mount ?? 'kubernetes'}/login`)
      return this.kubernetesLogin(kubernetes, body);
    const token = this.caller(req);
    if (!token) return denied;
    // Vault's default policy lets every token look itself up and renew itself.
    if (method === 'GET' && path === 'auth/token/lookup-self') return this.lookupSelf(token);
    if (method === 'POST' && path === 'auth/token/renew-self') return this.renewSelf(token);
    const capability = { GET: 'read', POST: 'update', PUT: 'update', DELETE: 'delete' }[method] ?? 'none';
    if (!this.allowed(token, path, capability) && !(capability === 'update' && this.allowed(token, path, 'create')))
      return denied;
    if (method === 'POST' && path === 'auth/token/create') return this.createToken(body);
    const policy = /^sys\/policies\/acl\/(.+)$/.exec(path)?.[1];
    if (policy && (method === 'POST' || method === 'PUT')) return this.putPolicy(policy, body);
    if (policy && method === 'DELETE') {
      this.policies.delete(policy);
      return { status: 204 };
    }
    const kvMount = this.options.kvMount ?? 'secret';
    const data = path.startsWith(`${kvMount}/data/`) ? path.slice(kvMount.length + 6) : undefined;
    if (data && method === 'GET') return this.kvRead(data, Number(url.searchParams.get('version') ?? 0));
    if (data && (method === 'POST' || method === 'PUT')) return this.kvWrite(data, body);
    if (path.startsWith(`${kvMount}/metadata/`) && method === 'DELETE') {
      this.kv.delete(path.slice(kvMount.length + 10));
      return { status: 204 };
    }
    return fail(404, `no handler for route "${path}". route entry not found.`);
  }

  private login(policies: string[], path: string, meta: Record<string, string>): Reply {
    this.loginCount += 1;
    const { loginTokenTtl: ttl = 2, loginTokenMaxTtl: maxTtl = 3600 } = this.options;
    const token = this.issue({ policies, ttl, maxTtl, renewable: true, path, meta });
    return envelope({ auth: this.authBlock(token, ttl) });
  }

  private approleLogin(role: DoubleAppRole, body: Record<string, unknown>): Reply {
    if (body.role_id !== role.roleId || body.secret_id !== role.secretId) return fail(400, 'invalid role or secret ID');
    return this.login(role.policies, `auth/${role.mount ?? 'approle'}/login`, { role_name: 'agentmesh' });
  }

  private kubernetesLogin(role: DoubleKubernetesRole, body: Record<string, unknown>): Reply {
    if (body.role !== role.role) return fail(400, `invalid role name "${String(body.role)}"`);
    if (body.jwt !== role.jwt) return denied;
    return this.login(role.policies, `auth/${role.mount ?? 'kubernetes'}/login`, {
      role: role.role,
      service_account_name: 'agentmesh',
      service_account_namespace: 'default',
      service_account_uid: randomUUID(),
    });
  }

  private lookupSelf(token: Token): Reply {
    const ttl = token.expiresAt ? Math.floor((token.expiresAt - Date.now()) / 1000) : 0;
    return envelope({
      data: {
        accessor: token.accessor,
        creation_time: Math.floor(token.issuedAt / 1000),
        creation_ttl: token.ttl,
        display_name: 'token',
        entity_id: '',
        expire_time: token.expiresAt ? new Date(token.expiresAt).toISOString() : null,
        explicit_max_ttl: 0,
        id: token.id,
        issue_time: new Date(token.issuedAt).toISOString(),
        meta: token.meta,
        num_uses: 0,
        orphan: true,
        path: token.path,
        policies: token.policies.includes('root') ? ['root'] : ['default', ...token.policies],
        renewable: token.renewable,
        ttl,
        type: 'service',
      },
    });
  }

  /** Grants the token's TTL again, capped by its max TTL, as Vault does. */
  private renewSelf(token: Token): Reply {
    if (!token.renewable || !token.ttl) return fail(400, 'lease is not renewable');
    const now = Date.now();
    token.expiresAt = token.maxExpiresAt
      ? Math.min(now + token.ttl * 1000, token.maxExpiresAt)
      : now + token.ttl * 1000;
    const lease = Math.floor((token.expiresAt - now) / 1000);
    this.renewCount += 1;
    const warnings =
      lease < token.ttl
        ? [`TTL of "${token.ttl}s" exceeded the effective max_ttl of "${lease}s"; TTL value is capped accordingly`]
        : null;
    return envelope({ auth: this.authBlock(token, lease), warnings });
  }

  private createToken(body: Record<string, unknown>): Reply {
    const ttl = secondsOf(body.ttl, 768 * 3600);
    const token = this.issue({
      policies: Array.isArray(body.policies) ? body.policies.map(String) : ['default'],
      ttl,
      maxTtl: secondsOf(body.explicit_max_ttl, 0),
      renewable: body.renewable !== false,
      path: 'auth/token/create',
      meta: (body.meta as Record<string, string>) ?? {},
    });
    return envelope({ auth: this.authBlock(token, ttl) });
  }

  private putPolicy(name: string, body: Record<string, unknown>): Reply {
    const text = String(body.policy ?? '');
    const rules = [...text.matchAll(/path\s+"([^"]+)"\s*\{([^}]*)\}/g)].map(([, path, inner]) => ({
      path: path!,
      capabilities: [...(/capabilities\s*=\s*\[([^\]]*)\]/.exec(inner!)?.[1] ?? '').matchAll(/"([^"]+)"/g)].map(
        (m) => m[1]!,
      ),
    }));
    if (rules.length === 0) return fail(400, 'failed to parse policy');
    this.policies.set(name, rules);
    return { status: 204 };
  }

  private metadata(versions: { created_time: string }[], version: number) {
    return {
      created_time: versions[version - 1]!.created_time,
      custom_metadata: null,
      deletion_time: '',
      destroyed: false,
      version,
    };
  }

  private kvRead(path: string, version: number): Reply {
    const versions = this.kv.get(path);
    const wanted = version || versions?.length || 0;
    if (!versions || wanted > versions.length) return fail(404);
    return envelope({ data: { data: versions[wanted - 1]!.data, metadata: this.metadata(versions, wanted) } });
  }

  private kvWrite(path: string, body: Record<string, unknown>): Reply {
    if (body.data === null || typeof body.data !== 'object') return fail(400, 'no data provided');
    const versions = this.kv.get(path) ?? [];
    versions.push({ data: body.data as Record<string, unknown>, created_time: new Date().toISOString() });
    this.kv.set(path, versions);
    return envelope({ data: this.metadata(versions, versions.length) });
  }
}
