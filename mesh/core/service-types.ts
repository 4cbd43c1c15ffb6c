import type { MethodDefinition } from '@grpc/grpc-js';
import type { CallContext } from './context.js';

// Definitions are the objects ts-proto generates with outputServices=grpc-js
// (e.g. AgentServiceService): one MethodDefinition per method.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyMethod = MethodDefinition<any, any>;

/** A generated service definition: method name → grpc-js method definition. */
export type ServiceDefinition = { readonly [method: string]: AnyMethod };

/** The request type of a method definition. */
export type RequestOf<M> = M extends { requestDeserialize: (b: Buffer) => infer R } ? R : never;
/** The response type of a method definition. */
export type ResponseOf<M> = M extends { responseDeserialize: (b: Buffer) => infer R } ? R : never;

/** A unary handler: one request, one response. */
export type UnaryHandler<Req, Res> = (request: Req, ctx: CallContext) => Promise<Res>;
/** A server-streaming handler: yields each message to send; returning ends the stream with OK. */
export type ServerStreamHandler<Req, Res> = (request: Req, ctx: CallContext) => AsyncIterable<Res>;

/**
 * The typed implementation of a service. Client- and bidi-streaming methods
 * are not part of the agentmesh contract and cannot be implemented.
 */
export type ServiceImplementation<S extends ServiceDefinition> = {
  [K in keyof S]: S[K]['requestStream'] extends true
    ? never
    : S[K]['responseStream'] extends true
      ? ServerStreamHandler<RequestOf<S[K]>, ResponseOf<S[K]>>
      : UnaryHandler<RequestOf<S[K]>, ResponseOf<S[K]>>;
};

/** The fully qualified service name of a definition, read from its method paths. */
export function serviceNameOf(definition: ServiceDefinition): string {
  const first = Object.values(definition)[0];
  if (!first) throw new Error('service definition has no methods');
  const match = /^\/([^/]+)\/[^/]+$/.exec(first.path);
  if (!match) throw new Error(`unexpected method path ${first.path}`);
  return match[1]!;
}
