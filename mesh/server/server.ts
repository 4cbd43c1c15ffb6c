import { EventEmitter } from 'node:events';
import {
  Server,
  ServerCredentials,
  type Metadata,
  type ServerOptions,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import type { Logger } from 'pino';
import { createCallContext, type OwnedCallContext, type PeerIdentity, type ServerSurfaceCall } from '../core/index.js';
import { Code, MeshError } from '../core/index.js';
import { adaptServerStream, adaptUnary, toStatus, type HandlerEnv } from './handlers.js';
import { composeInterceptors, type Interceptor } from '../core/index.js';
import { addReflection } from './reflection.js';
import { serverSpan } from './server-span.js';
import { serializedByKernel } from './stream-writer.js';
import { serviceNameOf, type ServiceDefinition, type ServiceImplementation } from '../core/index.js';

/** Options for createServer. */
export interface MeshServerOptions {
  logger: Logger;
  /** Options passed to the grpc-js Server (message sizes, keepalive...). */
  grpc?: ServerOptions;
  /** Report SERVING as soon as listen() returns (default true); set false to call setServing() after startup work. */
  serveOnListen?: boolean;
}

/** A call to dispatch() that arrived by another binding than gRPC (MCP over HTTPS...), as that binding authenticated it. */
export interface DispatchedCall {
  /** The caller's metadata, as gRPC would carry it: authorization, traceparent... */
  metadata: Metadata;
  /** The transport peer, e.g. "127.0.0.1:53412". */
  peer: string;
  /** The caller's workload identity as the binding's own transport established it (its TLS client certificate). */
  identity: PeerIdentity;
  deadline?: Date;
  /** Aborted when the caller goes away: the call is cancelled. */
  signal?: AbortSignal;
  /**
   * The binding already refused the call (its own token or policy check): the chain still
   * runs, so the refusal is logged, counted and audited as a gRPC one, but the handler never
   * does; should the chain admit the call after all, this error takes the handler's place.
   */
  refusedWith?: MeshError;
}

/** How shutdown() drains. */
export interface ShutdownOptions {
  /** Time with health NOT_SERVING before new calls are refused, so load balancers can react (default 0). */
  delayMs?: number;
  /** Upper bound for in-flight calls to finish before they are aborted (default 10 000). */
  graceMs?: number;
}

const HEALTH_SERVICE = 'grpc.health.v1.Health';
const ABORT_SETTLE_MS = 200;

/**
 * A gRPC server built the agentmesh way: typed services, an ordered
 * interceptor chain, health, reflection and graceful shutdown.
 */
export class MeshServer {
  private readonly interceptors: Interceptor[] = [];
  private readonly services: string[] = [];
  private readonly inFlight = new Set<OwnedCallContext>();
  /** Calls of dispatch() in progress: drained like gRPC calls, though grpc-js does not know them. */
  private readonly dispatched = new Set<OwnedCallContext>();
  private readonly dispatchedIdle: (() => void)[] = [];
  /** New calls are taken (gRPC and dispatch()): from listen() until shutdown's delay is over. */
  private acceptingCalls = false;
  private readonly unary = new Map<
    string,
    { env: HandlerEnv; handler: (req: unknown, ctx: OwnedCallContext) => Promise<unknown> }
  >();
  private readonly grpcServer: Server;
  private readonly health = new HealthImplementation({ '': 'NOT_SERVING' });
  private readonly log: Logger;
  private sealed = false;
  private state: 'new' | 'listening' | 'stopping' | 'stopped' = 'new';

  constructor(private readonly options: MeshServerOptions) {
    this.log = options.logger;
    this.grpcServer = new Server(options.grpc);
    this.health.addToServer(this.grpcServer);
  }

  /**
   * Appends an interceptor. The first added is the outermost. Interceptors
   * must all be added before the first service, so every service gets the
   * same chain; adding one later throws.
   */
  use(interceptor: Interceptor): this {
    if (this.sealed) throw new Error('use() must be called before add(): interceptors apply to every service');
    this.interceptors.push(interceptor);
    return this;
  }

  /** Adds a service implementation; methods left out answer UNIMPLEMENTED. */
  add<S extends ServiceDefinition>(definition: S, implementation: Partial<ServiceImplementation<S>>): this {
    if (this.state !== 'new') throw new Error('add() must be called before listen()');
    this.sealed = true;
    const service = serviceNameOf(definition);
    if (this.services.includes(service)) throw new Error(`service ${service} was already added`);
    // gRPC calls run in their span (server-span.ts); calls of other bindings come with their own (MCP).
    const chain = composeInterceptors([serverSpan, ...this.interceptors]);
    const dispatchChain = composeInterceptors([...this.interceptors]);
    const handlers: UntypedServiceImplementation = {};
    for (const [key, def] of Object.entries(definition)) {
      if (def.requestStream) throw new Error(`${def.path}: client streaming is not supported by the kernel`);
      const method = def.path.slice(def.path.lastIndexOf('/') + 1);
      const env: HandlerEnv = { service, method, chain, log: this.log, track: (ctx) => this.track(ctx) };
      const impl = (implementation as Record<string, unknown>)[key] as ((...args: never[]) => unknown) | undefined;
      const handler = impl
        ? impl.bind(implementation)
        : () => {
            throw new MeshError(Code.UNIMPLEMENTED, `${service}/${method} is not implemented`);
          };
      const unary = async (req: unknown, ctx: unknown) => handler(req as never, ctx as never) as never;
      if (!def.responseStream) this.unary.set(def.path, { env: { ...env, chain: dispatchChain }, handler: unary });
      handlers[key] = def.responseStream ? adaptServerStream(env, def, handler as never) : adaptUnary(env, def, unary);
    }
    this.grpcServer.addService(serializedByKernel(definition), handlers);
    this.services.push(service);
    this.health.setStatus(service, 'NOT_SERVING');
    return this;
  }

  /**
   * Binds to `address` ("host:port", port 0 for any free port) and starts
   * serving. Resolves with the bound port.
   */
  async listen(address: string, credentials: ServerCredentials): Promise<number> {
    if (this.state !== 'new') throw new Error('listen() can be called once');
    const { undescribed } = addReflection(this.grpcServer, [...this.services, HEALTH_SERVICE]);
    const port = await new Promise<number>((resolve, reject) =>
      this.grpcServer.bindAsync(address, credentials, (err, bound) => (err ? reject(err) : resolve(bound))),
    );
    // Certificate providers deliver their first certificate on a setImmediate queued during the bind;
    // waiting one turn here means no connection is dropped for "unloaded credentials" after listen() returns.
    await new Promise((resolve) => setImmediate(resolve));
    this.state = 'listening';
    this.acceptingCalls = true;
    if (this.options.serveOnListen !== false) this.setServing(true);
    // Said once so that a service missing from `grpcurl list` is not a mystery.
    this.log.info({ address, port, services: this.services, ...(undescribed.length && { undescribed }) }, 'listening');
    return port;
  }

  /**
   * Runs a unary method of an added service for a call that arrived by another binding
   * (MCP over HTTPS...): the same interceptor chain (access log, audit, metrics, token,
   * policy) and handler as over gRPC, the caller's workload identity taken as the binding
   * established it. Resolves with the response; rejects with the MeshError a gRPC caller
   * would have got (an unexpected error as a generic INTERNAL, its detail logged only).
   */
  async dispatch(path: string, request: unknown, call: DispatchedCall): Promise<unknown> {
    const method = this.unary.get(path);
    if (!method) throw new MeshError(Code.UNIMPLEMENTED, `${path.slice(1)} is not served here`);
    // As the gRPC port: calls are taken until shutdown's delay is over, NOT_SERVING or not.
    if (!this.acceptingCalls) throw new MeshError(Code.UNAVAILABLE, 'server is not accepting calls');
    const surface = Object.assign(new EventEmitter(), {
      request,
      metadata: call.metadata,
      getPeer: () => call.peer,
      getDeadline: () => call.deadline ?? Infinity,
    }) as unknown as ServerSurfaceCall & { request: unknown };
    const { env, handler } = method;
    const ctx = createCallContext(surface, { service: env.service, method: env.method, path, kind: 'unary' }, env.log);
    // Set before the chain runs: the security interceptor takes it instead of asking the gRPC transport.
    ctx.identity = call.identity;
    const cancel = () => surface.emit('cancelled');
    call.signal?.addEventListener('abort', cancel, { once: true });
    const untrack = this.track(ctx);
    this.dispatched.add(ctx);
    try {
      let response: unknown;
      await env.chain(ctx, async () => {
        if (call.refusedWith) throw call.refusedWith;
        response = await handler(request, ctx);
      });
      if (ctx.signal.aborted) throw ctx.signal.reason;
      return response;
    } catch (err) {
      const status = toStatus(err, ctx);
      throw new MeshError(status.code as number as Code, status.details ?? status.message);
    } finally {
      call.signal?.removeEventListener('abort', cancel);
      ctx.dispose();
      untrack();
      this.dispatched.delete(ctx);
      if (this.dispatched.size === 0) for (const idle of this.dispatchedIdle.splice(0)) idle();
    }
  }

  /** True from listen() until shutdown's delay is over: calls (gRPC and dispatch()) are taken. */
  get accepting(): boolean {
    return this.acceptingCalls;
  }

  /** Resolves once no dispatch() call is in progress. */
  private dispatchedDrained(): Promise<void> {
    if (this.dispatched.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.dispatchedIdle.push(resolve));
  }

  /** True while the health status is SERVING. */
  get serving(): boolean {
    return this.status === 'SERVING';
  }

  private status: ServingStatus = 'NOT_SERVING';

  /** Sets the health of the server and every service it serves. */
  setServing(serving: boolean): void {
    const status: ServingStatus = serving && this.state === 'listening' ? 'SERVING' : 'NOT_SERVING';
    this.status = status;
    this.health.setStatus('', status);
    for (const service of this.services) this.health.setStatus(service, status);
  }

  /** Number of calls currently being handled. */
  get inFlightCalls(): number {
    return this.inFlight.size;
  }

  /**
   * Graceful shutdown: health goes NOT_SERVING, after `delayMs` new calls are
   * refused (gRPC and dispatch()) and open server streams are ended
   * (UNAVAILABLE: reconnect), unary calls (dispatched ones too) get up to
   * `graceMs` to finish, then whatever is left is aborted and the server
   * stops. Safe to call more than once.
   */
  async shutdown(options: ShutdownOptions = {}): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped') return this.stopped;
    const wasListening = this.state === 'listening';
    this.state = 'stopping';
    this.setServing(false);
    this.stopped = this.drain(wasListening, options);
    return this.stopped;
  }

  private stopped: Promise<void> = Promise.resolve();

  private async drain(wasListening: boolean, { delayMs = 0, graceMs = 10_000 }: ShutdownOptions): Promise<void> {
    const inFlightAtStart = this.inFlight.size;
    this.log.info({ inFlight: inFlightAtStart, delayMs, graceMs }, 'shutting down');
    if (delayMs > 0 && wasListening) await sleep(delayMs);
    this.acceptingCalls = false;
    const grpcDrained = new Promise<void>((resolve) => this.grpcServer.tryShutdown(() => resolve()));
    // Calls of other bindings (dispatch()) hold the shutdown as gRPC calls do.
    const drained = Promise.all([grpcDrained, this.dispatchedDrained()]).then(() => true);
    // Server streams (Watch, SubscribeTask) may never end by themselves: end them now with UNAVAILABLE,
    // which tells clients to reconnect elsewhere, instead of holding shutdown for the whole grace period.
    for (const ctx of this.inFlight) {
      if (ctx.kind === 'server-stream')
        ctx.abort(new MeshError(Code.UNAVAILABLE, 'server is shutting down: reconnect'));
    }
    const timedOut = sleep(graceMs).then(() => false);
    const clean = await Promise.race([drained, timedOut]);
    if (!clean) {
      this.log.warn({ inFlight: this.inFlight.size }, 'grace period over: aborting in-flight calls');
      for (const ctx of this.inFlight) ctx.abort(new MeshError(Code.UNAVAILABLE, 'server is shutting down'));
      // Give aborted handlers a moment to send UNAVAILABLE (retryable) before connections are cut,
      // which clients would otherwise see as CANCELLED.
      await Promise.race([drained, sleep(ABORT_SETTLE_MS)]);
      this.grpcServer.forceShutdown();
    }
    this.state = 'stopped';
    this.log.info({ clean }, 'stopped');
  }

  private track(ctx: OwnedCallContext): () => void {
    this.inFlight.add(ctx);
    return () => this.inFlight.delete(ctx);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Creates a server; add interceptors with use(), services with add(), then listen(). */
export function createServer(options: MeshServerOptions): MeshServer {
  return new MeshServer(options);
}
