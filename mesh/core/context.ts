import type { Metadata, ServerUnaryCall } from '@grpc/grpc-js';
import { Metadata as GrpcMetadata } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { PeerIdentity, Principal } from './principal.js';
import { Code, MeshError } from './errors.js';

/** The parts every grpc-js server call has (grpc-js does not export this type). */
export type ServerSurfaceCall = Omit<ServerUnaryCall<unknown, unknown>, 'request'>;

/** How close to the deadline a cancellation counts as the deadline passing. */
const DEADLINE_SLACK_MS = 50;

/** Whether a method answers once or streams. */
export type MethodKind = 'unary' | 'server-stream';

/** Everything a handler and the interceptors know about one incoming call. */
export interface CallContext {
  /** Fully qualified service name, e.g. "agentmesh.v1.AgentService". */
  readonly service: string;
  /** Method name, e.g. "SendTask". */
  readonly method: string;
  /** The gRPC path, "/<service>/<method>". */
  readonly path: string;
  readonly kind: MethodKind;
  /** The decoded request message. */
  readonly request: unknown;
  /** Incoming request metadata. */
  readonly metadata: Metadata;
  /** The transport peer, e.g. "127.0.0.1:53412". */
  readonly peer: string;
  /** Aborted when the caller cancels, the deadline passes or the server is forced down; the reason is a MeshError. */
  readonly signal: AbortSignal;
  /** The caller's deadline, if it set one. */
  readonly deadline: Date | undefined;
  /** Milliseconds left before the deadline (Infinity when none). */
  timeRemainingMs(): number;
  /** Trailing metadata sent with the final status. */
  readonly trailer: Metadata;
  /** A logger bound to this call (made when first used: most calls log once, or not at all). */
  log: Logger;
  /** Adds fields to every later line of `log` (values must be safe to log: redact them first). */
  bindLog(bindings: Record<string, unknown>): void;
  /** The caller's workload identity, set by the security interceptor first (also for refused calls). */
  identity: PeerIdentity | undefined;
  /** The verified caller, set by the security interceptor before any handler runs. */
  principal: Principal | undefined;
  /**
   * The task this call is about, named in its access log line and audit
   * record: taken from the request (task_id, context.task_id) and set by
   * handlers that create one.
   */
  taskId: string | undefined;
  /**
   * Set by a handler of a read-only method whose call nevertheless changed state (a GetTask that
   * resumed a task waiting for its subject's authority): its audit record is then durable before
   * the answer even when the service has an audit window for reads.
   */
  changedState: boolean;
  /** The underlying grpc-js call, for the security layer (peer certificate). */
  readonly call: ServerSurfaceCall;
}

/** A CallContext plus the kernel's controls over its lifetime. */
export interface OwnedCallContext extends CallContext {
  /** Aborts the call's signal with the given reason (idempotent). */
  abort(reason: MeshError): void;
  /** Releases timers and listeners. */
  dispose(): void;
}

const LOG_PARTS = Symbol('agentmesh.callLogParts');

/**
 * What a call's `log` is made of, without making it: the logger and the bindings the call adds
 * (its child logger is made on first use, and a call that only writes its access line needs
 * none); just the logger once it is made or was replaced. For a context the kernel did not
 * make, its `log`.
 */
export function callLogParts(ctx: CallContext): { log: Logger; bindings?: Record<string, unknown> } {
  const parts = (ctx as Partial<Record<typeof LOG_PARTS, () => { log: Logger; bindings?: Record<string, unknown> }>>)[
    LOG_PARTS
  ];
  return parts ? parts.call(ctx) : { log: ctx.log };
}

/** Builds the context for an incoming call and wires cancellation and deadline into its signal. */
export function createCallContext(
  call: ServerSurfaceCall & { request?: unknown },
  info: { service: string; method: string; path: string; kind: MethodKind },
  log: Logger,
): OwnedCallContext {
  return new IncomingCall(call, info, log);
}

// A class rather than an object literal with accessors: V8 builds such a literal slowly, property by
// property, for every call (measured: ~10 µs a call, half of what creating a context cost). Its
// listeners are assigned in the constructor, not declared as arrow-function fields: under tsx
// (esbuild keepNames) every named arrow is wrapped in a defineProperty call, per call.
class IncomingCall implements OwnedCallContext {
  readonly service: string;
  readonly method: string;
  readonly path: string;
  readonly kind: MethodKind;
  readonly request: unknown;
  readonly metadata: Metadata;
  readonly peer: string;
  readonly deadline: Date | undefined;
  readonly trailer = new GrpcMetadata();
  identity: PeerIdentity | undefined = undefined;
  principal: Principal | undefined = undefined;
  taskId: string | undefined;
  changedState = false;
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly bindings: Record<string, unknown>;
  private callLog: Logger | undefined;
  private readonly onCancelled: () => void;

  constructor(
    readonly call: ServerSurfaceCall & { request?: unknown },
    info: { service: string; method: string; path: string; kind: MethodKind },
    private readonly baseLog: Logger,
  ) {
    this.service = info.service;
    this.method = info.method;
    this.path = info.path;
    this.kind = info.kind;
    this.request = call.request;
    this.metadata = call.metadata;
    this.peer = call.getPeer();
    this.taskId = taskIdOf(call.request);
    this.bindings = { rpc: info.path };
    const rawDeadline = call.getDeadline();
    const deadlineMs = rawDeadline instanceof Date ? rawDeadline.getTime() : rawDeadline;
    this.deadline = Number.isFinite(deadlineMs) ? new Date(deadlineMs) : undefined;
    if (this.deadline) {
      const left = this.deadline.getTime() - Date.now();
      if (left <= 0) this.expire();
      else this.timer = setTimeout(() => this.expire(), left);
    }
    this.onCancelled = () => this.cancelled();
    call.on('cancelled', this.onCancelled);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  timeRemainingMs(): number {
    return this.deadline ? Math.max(0, this.deadline.getTime() - Date.now()) : Infinity;
  }

  get log(): Logger {
    return (this.callLog ??= this.baseLog.child(this.bindings));
  }

  set log(replacement: Logger) {
    this.callLog = replacement;
  }

  [LOG_PARTS](): { log: Logger; bindings?: Record<string, unknown> } {
    return this.callLog ? { log: this.callLog } : { log: this.baseLog, bindings: this.bindings };
  }

  bindLog(more: Record<string, unknown>): void {
    Object.assign(this.bindings, more);
    this.callLog = undefined;
  }

  abort(reason: MeshError): void {
    if (!this.controller.signal.aborted) this.controller.abort(reason);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.call.removeListener('cancelled', this.onCancelled);
  }

  private expire(): void {
    this.abort(new MeshError(Code.DEADLINE_EXCEEDED, 'deadline exceeded'));
  }

  // grpc-js emits 'cancelled' both for client cancellation and for its own deadline timer; a client
  // whose own deadline fires also cancels, often a moment before ours. Near the deadline, it is one.
  private cancelled(): void {
    const expired = this.deadline !== undefined && this.deadline.getTime() - Date.now() <= DEADLINE_SLACK_MS;
    this.abort(
      expired
        ? new MeshError(Code.DEADLINE_EXCEEDED, 'deadline exceeded')
        : new MeshError(Code.CANCELLED, 'call cancelled by the client'),
    );
  }
}

/** The task id a request names (AgentService's task_id, ToolService's context.task_id), if any. */
function taskIdOf(request: unknown): string | undefined {
  const r = request as { taskId?: unknown; context?: { taskId?: unknown } } | undefined;
  const id = r?.taskId ?? r?.context?.taskId;
  return typeof id === 'string' && id ? id : undefined;
}
