import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Explanation } from '../../../gen/agentmesh/v1/explain.js';
import { AgentCard, ToolCard } from '../../../gen/agentmesh/v1/card.js';
import { DiscoveryMatch } from '../../../gen/agentmesh/v1/registry_service.js';
import { Message, Role, Task } from '../../../gen/agentmesh/v1/task.js';
import { requestMessage, type AuditLog } from '../../../mesh/index.js';
import type { Logger } from '../../../mesh/index.js';
import { inboxJson, inboxOf } from './approvals.js';
import { scopeFromQuery } from './discover-query.js';
import { HttpError, httpErrorOf } from './http-errors.js';
import { readJson, sendJson, stringField } from './http-io.js';
import { meshStatus, readMeshFile } from './operations.js';
import type { PeopleSignIn } from './people-sign-in.js';
import type { Session, SessionStore } from './sessions.js';
import { bridgeTaskEvents } from './task-events.js';
import { linesOfTrace } from './trace-logs.js';
import type { Caller, UserCalls } from './user-calls.js';
import { checkCsrfToken, checkSameOrigin, cookieOf, sessionCookie } from './web-security.js';

/** What the console's JSON API needs. */
export interface ConsoleApiOptions {
  calls: UserCalls;
  sessions: SessionStore;
  sessionMaxAgeSec: number;
  audit: AuditLog;
  log: Logger;
  /** The local mesh's mesh.json (operations view, service logs). */
  meshFile: string | undefined;
  /** With a people issuer: people sign in there (/auth/sign-in, /auth/callback), not with the dev login. */
  people?: PeopleSignIn;
}

interface Call {
  req: IncomingMessage;
  res: ServerResponse;
  session: Session;
  params: string[];
  query: URLSearchParams;
}

type Handler = (call: Call) => Promise<unknown>;

/** Live task views one session may hold open at a time. */
const MAX_STREAMS = 8;

/** The cookie holding the session id; the __Host- prefix pins it to this origin, Secure, Path=/. */
export const SESSION_COOKIE = '__Host-agentmesh-console';
/** The state of a sign-in at the people issuer, binding its callback to the browser that started it (Lax: the callback is a cross-site navigation). */
const SIGN_IN_COOKIE = '__Host-agentmesh-sign-in';
const USER = /^[A-Za-z0-9._@-]{1,64}$/;
const NAME = '([a-z0-9-]+/[a-z0-9-]+)';
const TASK = '([A-Za-z0-9_.:-]{1,128})';

/**
 * The console's JSON API under /api: sign-in (dev login) and sessions,
 * marketplace search (the registry's Discover), cards, tasks (send, follow
 * as server-sent events, explain, answer), the approvals waiting for the
 * person across every agent, service logs of a task's trace
 * and the operations view. Every mesh call is made for the signed-in person;
 * state-changing requests need the same origin and the session's CSRF token.
 */
export class ConsoleApi {
  private readonly routes: { method: string; path: RegExp; mutating: boolean; handler: Handler }[] = [];
  /** Live task views (SSE streams) per session. */
  private readonly streams = new Map<string, number>();

  constructor(private readonly o: ConsoleApiOptions) {
    const route = (method: string, path: string, handler: Handler) =>
      this.routes.push({ method, path: new RegExp(`^/api${path}$`), mutating: method !== 'GET', handler });
    route('GET', '/discover', (c) => this.discover(c));
    route('GET', `/agents/${NAME}`, (c) => this.agentCard(c));
    route('GET', `/agents/${NAME}/a2a-card.json`, (c) => this.a2aCard(c));
    route('GET', `/tools/${NAME}`, (c) => this.toolCard(c));
    route('POST', `/agents/${NAME}/tasks`, (c) => this.sendTask(c));
    route('GET', `/agents/${NAME}/tasks/${TASK}`, (c) => this.getTask(c));
    route('GET', `/agents/${NAME}/tasks/${TASK}/events`, (c) => this.events(c));
    route('GET', `/agents/${NAME}/tasks/${TASK}/explanation`, (c) => this.explain(c));
    route('GET', `/agents/${NAME}/tasks/${TASK}/logs`, (c) => this.logs(c));
    route('POST', `/agents/${NAME}/tasks/${TASK}/input`, (c) => this.provideInput(c));
    route('GET', '/approvals', (c) => this.approvals(c));
    route('GET', '/operations', () => this.operations());
  }

  /** Handles a request under /api; every failure becomes a JSON error with a clear message, never a stack trace. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    let session: Session | undefined;
    try {
      if (url.pathname === '/api/session') return await this.sessionRoute(req, res);
      if (url.pathname === '/api/sign-in' && req.method === 'GET')
        return sendJson(res, 200, this.o.people ? { issuer: this.o.people.settings.issuer } : { dev: true });
      const route = this.routes.find((r) => r.method === req.method && r.path.test(url.pathname));
      if (!route) {
        const known = this.routes.some((r) => r.path.test(url.pathname));
        throw known
          ? new HttpError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not supported here`)
          : new HttpError(404, 'NOT_FOUND', `no such API: ${url.pathname}`);
      }
      session = this.o.sessions.get(cookieOf(req, SESSION_COOKIE));
      if (!session) throw new HttpError(401, 'UNAUTHENTICATED', 'sign in first');
      if (route.mutating) {
        checkSameOrigin(req);
        checkCsrfToken(req, session.csrf);
      }
      const params = route.path.exec(url.pathname)!.slice(1);
      const body = await route.handler({ req, res, session, params, query: url.searchParams });
      if (!res.headersSent) sendJson(res, 200, body);
    } catch (err) {
      const e = httpErrorOf(err);
      if (e.status >= 500) this.o.log.error({ err, path: url.pathname, user: session?.user }, 'console request failed');
      else
        this.o.log.info(
          { path: url.pathname, status: e.status, code: e.code, user: session?.user },
          'console request refused',
        );
      if (res.headersSent) res.end();
      else sendJson(res, e.status, { code: e.code, message: e.message });
    }
  }

  private async sessionRoute(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const current = this.o.sessions.get(cookieOf(req, SESSION_COOKIE));
    const view = (s: Session) => ({ user: s.user, scopes: s.scopes, roles: s.roles, csrf: s.csrf });
    if (req.method === 'GET') {
      if (!current) throw new HttpError(401, 'UNAUTHENTICATED', 'sign in first');
      return sendJson(res, 200, view(current));
    }
    checkSameOrigin(req);
    if (req.method === 'DELETE') {
      if (current) {
        checkCsrfToken(req, current.csrf);
        this.o.sessions.delete(current.id);
        await this.record(current.user, 'sign_out', 'OK');
      }
      return sendJson(res, 200, {}, { 'set-cookie': sessionCookie(SESSION_COOKIE, '', 0) });
    }
    if (req.method !== 'POST') throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not supported here`);
    if (this.o.people)
      throw new HttpError(
        403,
        'PERMISSION_DENIED',
        `this console signs people in at ${this.o.people.settings.issuer}, not with the dev login`,
      );
    const user = stringField(await readJson(req), 'user', { max: 64 }).trim();
    if (!USER.test(user))
      throw new HttpError(400, 'INVALID_ARGUMENT', 'user: letters, digits and . _ @ - (at most 64)');
    let grants: { scopes: string[]; roles: string[] };
    try {
      grants = await this.o.calls.grantsOf(user);
    } catch (err) {
      await this.record(user, 'sign_in', 'UNAUTHENTICATED');
      const e = httpErrorOf(err);
      throw e.status === 401
        ? new HttpError(403, 'PERMISSION_DENIED', `the authorization server refused to sign in ${user}: ${e.message}`)
        : e;
    }
    if (current) this.o.sessions.delete(current.id);
    const session = this.o.sessions.create(user, grants.scopes, grants.roles);
    await this.record(user, 'sign_in', 'OK');
    sendJson(res, 200, view(session), {
      'set-cookie': sessionCookie(SESSION_COOKIE, session.id, this.o.sessionMaxAgeSec),
    });
  }

  /**
   * /auth/sign-in sends the browser to the people issuer; /auth/callback is where it comes back:
   * the code is redeemed here, the session keeps the refresh token, the page gets only the session cookie.
   */
  async handleAuth(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const people = this.o.people;
    try {
      if (!people) throw new HttpError(404, 'NOT_FOUND', 'this console signs people in with the dev login');
      if (req.method !== 'GET') throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not supported here`);
      if (url.pathname === '/auth/sign-in') {
        const { location, state } = await people.start();
        res.writeHead(302, { location, 'set-cookie': signInCookie(state, 600) }).end();
        return;
      }
      if (url.pathname !== '/auth/callback') throw new HttpError(404, 'NOT_FOUND', `no such page: ${url.pathname}`);
      let signedIn;
      try {
        signedIn = await people.finish(url.searchParams, cookieOf(req, SIGN_IN_COOKIE));
      } catch (err) {
        await this.record('unknown', 'sign_in', httpErrorOf(err).code);
        throw err;
      }
      const current = this.o.sessions.get(cookieOf(req, SESSION_COOKIE));
      if (current) this.o.sessions.delete(current.id);
      const session = this.o.sessions.create(signedIn.user, signedIn.scopes, signedIn.roles, signedIn.grant);
      await this.record(session.user, 'sign_in', 'OK');
      res
        .writeHead(302, {
          location: '/',
          'set-cookie': [sessionCookie(SESSION_COOKIE, session.id, this.o.sessionMaxAgeSec), signInCookie('', 0)],
        })
        .end();
    } catch (err) {
      const e = httpErrorOf(err);
      if (e.status >= 500) this.o.log.error({ err, path: url.pathname }, 'sign-in failed');
      else this.o.log.info({ path: url.pathname, status: e.status, code: e.code }, 'sign-in refused');
      if (!res.headersSent) sendJson(res, e.status, { code: e.code, message: e.message });
    }
  }

  private async record(
    subject: string,
    what: string,
    outcome: string,
    resource?: string,
    taskId?: string,
  ): Promise<void> {
    await this.o.audit.append({
      kind: 'console',
      service: 'agentmesh/console',
      subject,
      method: what,
      outcome,
      resource,
      task_id: taskId,
    });
  }

  private async discover({ session, query }: Call) {
    const scope = scopeFromQuery(query);
    const max = Math.min(100, Math.max(1, Number(query.get('max') ?? 50) || 50));
    const { matches } = await this.o.calls
      .registry()
      .discover({ scope, maxResults: max }, await this.o.calls.as(session, this.o.calls.registryName));
    return { matches: matches.map((m) => DiscoveryMatch.toJSON(m)) };
  }

  private async agentCard({ session, params }: Call) {
    const { card, versions } = await this.o.calls
      .registry()
      .getAgent({ name: params[0]!, version: '' }, await this.o.calls.as(session, this.o.calls.registryName));
    return { card: AgentCard.toJSON(card!), versions };
  }

  /** The agent's A2A card as the registry keeps it, as a download (to hand to another A2A framework). */
  private async a2aCard({ res, session, params }: Call) {
    const { card } = await this.o.calls
      .registry()
      .getAgent({ name: params[0]!, version: '' }, await this.o.calls.as(session, this.o.calls.registryName));
    if (!card?.a2a?.card) throw new HttpError(404, 'NOT_FOUND', `${params[0]} has no A2A card`);
    sendJson(res, 200, card.a2a.card, {
      'content-disposition': `attachment; filename="${params[0]!.replace('/', '.')}.a2a-card.json"`,
    });
  }

  private async toolCard({ session, params }: Call) {
    const { card, versions } = await this.o.calls
      .registry()
      .getToolService({ name: params[0]!, version: '' }, await this.o.calls.as(session, this.o.calls.registryName));
    return { card: ToolCard.toJSON(card!), versions };
  }

  private async sendTask({ req, session, params }: Call) {
    const body = await readJson(req);
    const input = body.input ?? {};
    if (input === null || typeof input !== 'object' || Array.isArray(input))
      throw new HttpError(400, 'INVALID_ARGUMENT', 'input: must be a JSON object');
    const skillId = stringField(body, 'skillId', { optional: true, max: 128 });
    const text = stringField(body, 'text', { optional: true, max: 4_000 });
    const requestId =
      stringField(body, 'requestId', { optional: true, pattern: /^[A-Za-z0-9-]{8,64}$/ }) || randomUUID();
    const agent = await this.o.calls.agent(session, params[0]!);
    try {
      const { task } = await agent.client.sendTask(
        {
          requestId,
          skillId,
          message: requestMessage(input as Record<string, unknown>, text),
          configuration: { blocking: false, historyLength: 1, timeout: undefined },
        },
        await this.o.calls.as(session, agent.name),
      );
      await this.record(session.user, 'send_task', 'OK', agent.name, task?.id);
      return { task: Task.toJSON(task!) };
    } catch (err) {
      await this.record(session.user, 'send_task', httpErrorOf(err).code, agent.name);
      throw err;
    }
  }

  private async task(user: Caller, agentName: string, taskId: string): Promise<Task> {
    const agent = await this.o.calls.agent(user, agentName);
    return (await agent.client.getTask({ taskId, historyLength: 0 }, await this.o.calls.as(user, agent.name))).task!;
  }

  private async getTask({ session, params }: Call) {
    return { task: Task.toJSON(await this.task(session, params[0]!, params[1]!)) };
  }

  private async events({ req, res, session, params }: Call) {
    // Each open stream holds a call on an agent for up to an hour: a person gets a few at a time.
    const open = this.streams.get(session.id) ?? 0;
    if (open >= MAX_STREAMS)
      throw new HttpError(429, 'RESOURCE_EXHAUSTED', `at most ${MAX_STREAMS} live task views at a time: close one`);
    const agent = await this.o.calls.agent(session, params[0]!);
    const after = Number(req.headers['last-event-id'] ?? 0);
    const options = await this.o.calls.as(session, agent.name, { deadlineMs: 3_600_000 });
    this.streams.set(session.id, open + 1);
    try {
      await bridgeTaskEvents(
        req,
        res,
        (signal) =>
          agent.client.subscribeTask(
            { taskId: params[1]!, afterSequence: Number.isSafeInteger(after) && after > 0 ? after : 0 },
            { ...options, signal },
          ),
        () => this.o.sessions.live(session.id),
      );
    } finally {
      const left = (this.streams.get(session.id) ?? 1) - 1;
      if (left > 0) this.streams.set(session.id, left);
      else this.streams.delete(session.id);
    }
  }

  private async explain({ session, params, query }: Call) {
    const depth = Number(query.get('depth') ?? 4);
    if (!Number.isInteger(depth) || depth < 1 || depth > 8)
      throw new HttpError(400, 'INVALID_ARGUMENT', 'depth: a whole number from 1 to 8');
    const agent = await this.o.calls.agent(session, params[0]!);
    const { explanation } = await agent.client.explainTask(
      { taskId: params[1]!, maxDepth: depth },
      await this.o.calls.as(session, agent.name),
    );
    return { explanation: Explanation.toJSON(explanation!) };
  }

  private async logs({ session, params }: Call) {
    // The task must be visible to this person (its agent checks): only then are its trace's log lines shown.
    const { traceId } = await this.task(session, params[0]!, params[1]!);
    const found = readMeshFile(this.o.meshFile);
    if (!found) throw new HttpError(503, 'UNAVAILABLE', 'the mesh file is not there yet: the mesh is still starting');
    return {
      traceId,
      lines: linesOfTrace(
        found.mesh.services.map((s) => ({ service: s.name, file: s.log })),
        traceId,
      ),
    };
  }

  private async provideInput({ req, session, params }: Call) {
    const body = await readJson(req);
    const stepId = stringField(body, 'stepId', { max: 64 });
    const answer = body.answer;
    let message: Message;
    if (typeof answer === 'string')
      message = Message.fromPartial({
        messageId: randomUUID(),
        role: Role.ROLE_USER,
        parts: [{ content: { $case: 'text', text: answer } }],
      });
    else if (answer !== null && typeof answer === 'object' && !Array.isArray(answer))
      message = requestMessage(answer as Record<string, unknown>, '');
    else throw new HttpError(400, 'INVALID_ARGUMENT', 'answer: a text or a JSON object');
    const agent = await this.o.calls.agent(session, params[0]!);
    try {
      const { task } = await agent.client.provideInput(
        { taskId: params[1]!, stepId, message, expectedVersion: 0 },
        await this.o.calls.as(session, agent.name),
      );
      await this.record(session.user, 'provide_input', 'OK', agent.name, params[1]);
      return { task: Task.toJSON(task!) };
    } catch (err) {
      await this.record(session.user, 'provide_input', httpErrorOf(err).code, agent.name, params[1]);
      throw err;
    }
  }

  private async approvals({ session, query }: Call) {
    const agent = query.get('agent') ?? '';
    if (agent && !new RegExp(`^${NAME}$`).test(agent))
      throw new HttpError(400, 'INVALID_ARGUMENT', 'agent: an agent name, namespace/name');
    return inboxJson(await inboxOf(this.o.calls, session, agent || undefined));
  }

  private async operations() {
    const found = readMeshFile(this.o.meshFile);
    if (!found) throw new HttpError(503, 'UNAVAILABLE', 'the mesh file is not there yet: the mesh is still starting');
    return { services: await meshStatus(found.mesh, found.home), checkedAt: new Date().toISOString() };
  }
}

const signInCookie = (value: string, maxAgeSec: number) =>
  `${SIGN_IN_COOKIE}=${value}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=${maxAgeSec}`;
