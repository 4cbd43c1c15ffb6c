import { mkdirSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import { loadConfig, type KernelConfig } from '../../../mesh/index.js';
import { CertificateFiles } from '../../../mesh/index.js';
import type { SecretsProvider } from '../../../mesh/index.js';
import { clientSecurityFromEnv } from '../../../mesh/index.js';
import { ConfigError } from '../../../mesh/index.js';
import type { Stoppable } from '../../../mesh/index.js';
import { startAdminServer } from '../../../mesh/index.js';
import { AuditLog } from '../../../mesh/index.js';
import type { Logger } from '../../../mesh/index.js';
import { MeshMetrics } from '../../../mesh/index.js';
import { ConsoleApi } from './console-api.js';
import { consoleConfigSchema } from './console-config.js';
import { sendJson } from './http-io.js';
import { startHttpsServer } from './https-server.js';
import { PeopleSignIn, readPeopleSettings } from './people-sign-in.js';
import { SessionStore } from './sessions.js';
import { StaticFiles } from './static-files.js';
import { UserCalls } from './user-calls.js';
import { setSecurityHeaders } from './web-security.js';

/** What the console process hands to startConsole. */
export interface ConsoleStartOptions {
  name: string;
  kernel: KernelConfig;
  log: Logger;
  secrets: SecretsProvider;
  /** The built front end, unless AGENTMESH_CONSOLE_ASSETS_DIR says otherwise. */
  assetsDir: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts the web console: HTTPS with its workload certificate from the mesh
 * CA, the front end and the JSON API, an admin port (/metrics, /readyz) and
 * an audit trail of what people did through it. It calls the mesh with its
 * own identity (mTLS) and each person's token, never one of its own.
 */
export async function startConsole(o: ConsoleStartOptions): Promise<Stoppable & { url: string }> {
  const env = o.env ?? process.env;
  const c = loadConfig(consoleConfigSchema, env);
  // The dev login lets whoever reaches the page sign in as anyone: it is for one's own machine.
  if (!/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(o.kernel.AGENTMESH_HOST)) {
    throw new ConfigError(
      'AGENTMESH_HOST',
      'must be a loopback address: the console signs people in with the local dev login, which trusts whoever reaches it',
    );
  }
  const security = await clientSecurityFromEnv(o.secrets, o.log, { ...env, AGENTMESH_SERVICE: o.name });
  const { AGENTMESH_TLS_CERT: certFile, AGENTMESH_TLS_KEY: keyFile, AGENTMESH_TLS_CA: caFile } = security.config;
  if (!certFile || !keyFile || !caFile)
    throw new ConfigError(
      'AGENTMESH_TLS_CERT',
      'and AGENTMESH_TLS_KEY, AGENTMESH_TLS_CA are required: the console serves HTTPS only',
    );
  const tls = new CertificateFiles({ certFile, keyFile, caFile }, security.config.AGENTMESH_TLS_REFRESH_MS, o.log);
  mkdirSync(c.AGENTMESH_DATA_DIR, { recursive: true, mode: 0o700 });
  const audit = new AuditLog(join(c.AGENTMESH_DATA_DIR, 'audit.jsonl'));
  // Known once the server listens: the callback the people issuer sends browsers back to.
  let callback = '';
  const people = c.AGENTMESH_CONSOLE_PEOPLE_FILE
    ? new PeopleSignIn(
        readPeopleSettings(c.AGENTMESH_CONSOLE_PEOPLE_FILE),
        security.config.AGENTMESH_TRUST_DOMAIN,
        () => callback,
      )
    : undefined;
  const calls = new UserCalls({
    people,
    transport: security.transport,
    tokens: security.tokens,
    trustDomain: security.config.AGENTMESH_TRUST_DOMAIN,
    registry: { name: c.AGENTMESH_REGISTRY_NAME, address: c.AGENTMESH_REGISTRY_ADDRESS },
    deadlineMs: o.kernel.AGENTMESH_DEFAULT_DEADLINE_MS,
  });
  const api = new ConsoleApi({
    calls,
    sessions: new SessionStore({
      idleMs: c.AGENTMESH_CONSOLE_SESSION_IDLE_MS,
      absoluteMs: c.AGENTMESH_CONSOLE_SESSION_MAX_MS,
    }),
    sessionMaxAgeSec: Math.floor(c.AGENTMESH_CONSOLE_SESSION_MAX_MS / 1000),
    audit,
    log: o.log,
    meshFile: c.AGENTMESH_CONSOLE_MESH_FILE,
    people,
  });
  const assets = new StaticFiles(resolve(c.AGENTMESH_CONSOLE_ASSETS_DIR ?? o.assetsDir));
  if (!assets.built) o.log.warn({ dir: assets.dir }, 'the console front end is not built: run `npm run build:console`');

  const route = (req: IncomingMessage, res: ServerResponse) => {
    setSecurityHeaders(res);
    const url = new URL(req.url ?? '/', 'https://console.invalid');
    if (url.pathname.startsWith('/api/')) return void api.handle(req, res, url);
    if (url.pathname.startsWith('/auth/')) return void api.handleAuth(req, res, url);
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return sendJson(res, 405, { code: 'METHOD_NOT_ALLOWED', message: `${req.method} is not supported here` });
    if (!assets.built)
      return sendJson(res, 503, {
        code: 'UNAVAILABLE',
        message: 'the console front end is not built: run `npm run build:console`',
      });
    if (!assets.serve(url.pathname, res))
      sendJson(res, 404, { code: 'NOT_FOUND', message: `no such page: ${url.pathname}` });
  };
  // A request the URL parser or the path decoder refuses ("//", "%E0") is the client's error: it
  // must not end the process (and every session with it).
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    try {
      route(req, res);
    } catch (err) {
      if (err instanceof URIError || err instanceof TypeError) {
        if (!res.headersSent)
          sendJson(res, 400, { code: 'INVALID_ARGUMENT', message: 'the request path is not a valid URL path' });
        return;
      }
      o.log.error({ err }, 'console request failed');
      if (!res.headersSent) sendJson(res, 500, { code: 'INTERNAL', message: 'internal error' });
    }
  };
  const server = await startHttpsServer({ host: o.kernel.AGENTMESH_HOST, port: o.kernel.AGENTMESH_PORT, tls, handler });
  const metrics = new MeshMetrics(o.name);
  let serving = true;
  const admin = await startAdminServer({
    host: c.AGENTMESH_ADMIN_HOST,
    port: c.AGENTMESH_ADMIN_PORT,
    metrics,
    readiness: { ready: () => serving },
  });
  const url = `https://${o.kernel.AGENTMESH_HOST}:${server.port}/`;
  callback = `${url}auth/callback`;
  o.log.info({ url, admin: admin.address }, 'console started');
  return {
    url,
    async shutdown() {
      serving = false;
      await server.close();
      calls.close();
      await admin.close();
      await audit.close();
      tls.close();
      security.close();
      await o.secrets.close();
      o.log.info('stopped');
    },
  };
}
