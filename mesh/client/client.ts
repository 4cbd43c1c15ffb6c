import { Client, Metadata, type ChannelCredentials, type ChannelOptions, type ServiceError } from '@grpc/grpc-js';
import type { CallContext } from '../core/index.js';
import { Code, MeshError, pushbackForbidsRetry } from '../core/index.js';
import type { RequestOf, ResponseOf, ServiceDefinition } from '../core/index.js';
import { endGrpcSpan, startClientSpan } from '../telemetry/index.js';
import { channelTarget } from './channel-target.js';
import { readServerStream } from './server-stream-reader.js';

/** Per-call options of a mesh client method. */
export interface CallOptions {
  /** Deadline for this call; defaults to the client's default deadline. Infinity for long-lived streams (Watch). */
  deadlineMs?: number;
  /** Cancels the call when aborted. */
  signal?: AbortSignal;
  /** Extra metadata for this call. */
  metadata?: Metadata;
  /** The incoming call this call is made for: its deadline and cancellation carry over. */
  parent?: CallContext;
  /**
   * An access token to act for when there is no incoming call to take it from
   * (an agent's task runs after SendTask returned): hooks that exchange the
   * caller's token (actForCaller) exchange this one. Never log it.
   */
  actFor?: string;
  /**
   * Made in this workload's own name even on a client that acts for callers:
   * for what belongs to nobody's task, such as reading a collaborator's card.
   */
  asSelf?: boolean;
}

/** Called before every outgoing call to add metadata (tokens, trace context...). */
export type MetadataHook = (
  metadata: Metadata,
  call: { path: string; parent?: CallContext; actFor?: string; asSelf?: boolean },
) => void | Promise<void>;

/** Options for createClient. */
export interface MeshClientOptions {
  credentials: ChannelCredentials;
  /** Applied to every call without its own deadline (default 10 000 ms). Calls never go without a deadline. */
  defaultDeadlineMs?: number;
  /** Hooks run in order before each call. */
  metadataHooks?: MetadataHook[];
  /** grpc-js channel options (e.g. ssl target name override). */
  channelOptions?: ChannelOptions;
}

/** A promise-based, typed client: unary methods return promises, server streams async iterables. */
export type MeshClient<S extends ServiceDefinition> = {
  [K in keyof S]: S[K]['requestStream'] extends true
    ? never
    : S[K]['responseStream'] extends true
      ? (request: RequestOf<S[K]>, options?: CallOptions) => AsyncIterable<ResponseOf<S[K]>>
      : (request: RequestOf<S[K]>, options?: CallOptions) => Promise<ResponseOf<S[K]>>;
} & { close(): void };

/**
 * Turns a failed call's ServiceError into a MeshError carrying the same code; a trailer
 * `grpc-retry-pushback-ms` that forbids retries (gRFC A6) makes it `permanent`.
 */
function fromServiceError(err: ServiceError, path: string): MeshError {
  // grpc-js's Status and our Code share their numbers.
  const code = err.code as number as Code;
  return new MeshError(code, err.details || Code[code] || 'call failed', {
    cause: err,
    metadata: err.metadata,
    remote: path,
    permanent: pushbackForbidsRetry(err.metadata),
  });
}

/**
 * Creates a typed client for `address` ("host:port", or "ip1:p1,ip2:p2" for the
 * replicas of one service, balanced round robin) following the mesh's conventions.
 */
export function createClient<S extends ServiceDefinition>(
  definition: S,
  address: string,
  options: MeshClientOptions,
): MeshClient<S> {
  const target = channelTarget(address);
  const grpcClient = new Client(target.target, options.credentials, { ...target.options, ...options.channelOptions });
  const defaultDeadlineMs = options.defaultDeadlineMs ?? 10_000;
  const hooks = options.metadataHooks ?? [];

  async function prepare(path: string, opts: CallOptions = {}) {
    const metadata = opts.metadata?.clone() ?? new Metadata();
    for (const hook of hooks)
      await hook(metadata, { path, parent: opts.parent, actFor: opts.actFor, asSelf: opts.asSelf });
    let deadline = Date.now() + (opts.deadlineMs ?? defaultDeadlineMs);
    if (opts.parent?.deadline) deadline = Math.min(deadline, opts.parent.deadline.getTime());
    const signals = [opts.signal, opts.parent?.signal].filter((s): s is AbortSignal => s !== undefined);
    return { metadata, deadline, signal: signals.length ? AbortSignal.any(signals) : undefined };
  }

  const client: Record<string, unknown> = { close: () => grpcClient.close() };
  for (const [key, def] of Object.entries(definition)) {
    if (def.requestStream) continue;
    if (def.responseStream) {
      client[key] = (request: unknown, opts?: CallOptions) =>
        readServerStream(
          async () => {
            const { metadata, deadline, signal } = await prepare(def.path, opts);
            signal?.throwIfAborted();
            const span = startClientSpan(def.path, metadata, target.target);
            const call = grpcClient.makeServerStreamRequest(
              def.path,
              def.requestSerialize,
              def.responseDeserialize,
              request,
              metadata,
              { deadline },
            );
            const cancel = () => call.cancel();
            signal?.addEventListener('abort', cancel, { once: true });
            return {
              call,
              done(failure?: ServiceError) {
                if (span) endGrpcSpan(span, failure?.code ?? 0, failure);
                signal?.removeEventListener('abort', cancel);
                // Stops the server stream when the consumer breaks out of the loop early.
                call.cancel();
              },
            };
          },
          (failure) => fromServiceError(failure, def.path),
        );
    } else {
      client[key] = async (request: unknown, opts?: CallOptions) => {
        const { metadata, deadline, signal } = await prepare(def.path, opts);
        signal?.throwIfAborted();
        const span = startClientSpan(def.path, metadata, target.target);
        return new Promise((resolve, reject) => {
          const call = grpcClient.makeUnaryRequest(
            def.path,
            def.requestSerialize,
            def.responseDeserialize,
            request,
            metadata,
            { deadline },
            (err, response) => {
              signal?.removeEventListener('abort', cancel);
              if (span) endGrpcSpan(span, err?.code ?? 0, err ?? undefined);
              if (err) reject(fromServiceError(err, def.path));
              else resolve(response);
            },
          );
          const cancel = () => call.cancel();
          signal?.addEventListener('abort', cancel, { once: true });
        });
      };
    }
  }
  return client as MeshClient<S>;
}
