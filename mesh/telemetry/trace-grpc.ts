import type { Metadata } from '@grpc/grpc-js';
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
} from '@opentelemetry/api';

// The spans of gRPC calls, made by the mesh's own server kernel and client instead of
// OpenTelemetry's GrpcInstrumentation (which patches grpc-js and wraps every call and its
// emitters in context bindings). Names, kinds and attributes are the instrumentation's, so
// traces read the same: `grpc.<package.Service>/<Method>`, rpc.system / rpc.service /
// rpc.method / rpc.grpc.status_code, and on errors grpc.error_name / grpc.error_message.

let tracer: Tracer | undefined;

/** Turns the mesh's gRPC spans on (initTracing does, with its provider) or off (undefined). */
export function setGrpcTracer(t: Tracer | undefined): void {
  tracer = t;
}

/**
 * The `traceparent` (and `tracestate`, baggage) of the span active here, as headers, for calls
 * made by a library's own gRPC client (the A2A SDK's): its server joins the caller's trace.
 * Empty when the mesh does not make the gRPC spans (tracing off, or the instrumentation injects them).
 */
export function traceHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  if (tracer) propagation.inject(context.active(), headers);
  return headers;
}

const getter: TextMapGetter<Metadata> = {
  get: (carrier, key) => {
    const values = carrier.get(key);
    return values.length ? values.map(String) : undefined;
  },
  keys: (carrier) => Object.keys(carrier.getMap()),
};

const setter: TextMapSetter<Metadata> = { set: (carrier, key, value) => carrier.set(key, value) };

type RpcNaming = { name: string; attributes: Record<string, string> };
const naming = new Map<string, RpcNaming>();

/** A method's span name and attributes, made once per path (the SDK copies the attributes into each span). */
function rpcNaming(path: string): RpcNaming {
  let known = naming.get(path);
  if (!known) {
    const slash = path.lastIndexOf('/');
    const qualified = path.startsWith('/') ? path.slice(1) : path;
    known = {
      name: `grpc.${qualified}`,
      attributes: {
        'rpc.system': 'grpc',
        'rpc.service': path.slice(path.startsWith('/') ? 1 : 0, slash),
        'rpc.method': path.slice(slash + 1),
      },
    };
    // Paths come from the services this process serves and calls: few, but bounded all the same.
    if (naming.size < 1_000) naming.set(path, known);
  }
  return known;
}

/** Records how a call ended on its span, as the instrumentation did, and ends it. */
export function endGrpcSpan(span: Span, code: number, error?: { name: string; message: string }): void {
  span.setAttribute('rpc.grpc.status_code', code);
  if (code !== 0) span.setStatus({ code: SpanStatusCode.ERROR, message: error?.message });
  if (error) span.setAttributes({ 'grpc.error_name': error.name, 'grpc.error_message': error.message });
  span.end();
}

/**
 * Starts the SERVER span of an incoming call, child of the caller's span named by the
 * `traceparent` (and `tracestate`, baggage) of its metadata. Returns the context to run the
 * call in (the span active in it), or undefined when tracing is off.
 */
export function startServerSpan(path: string, metadata: Metadata): { span: Span; context: Context } | undefined {
  if (!tracer) return undefined;
  const parent = propagation.extract(ROOT_CONTEXT, metadata, getter);
  const { name, attributes } = rpcNaming(path);
  const span = tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
  return { span, context: trace.setSpan(parent, span) };
}

/**
 * Starts the CLIENT span of an outgoing call, child of the span active where the call is
 * made (a handler's server span, a task's step span), and writes its `traceparent` into the
 * call's metadata. Returns undefined when tracing is off.
 */
export function startClientSpan(path: string, metadata: Metadata, target?: string): Span | undefined {
  if (!tracer) return undefined;
  const active = context.active();
  const { name, attributes } = rpcNaming(path);
  const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, active);
  const server = target && /(?:[A-Za-z0-9+.-]+:(?:\/\/)?)?([A-Za-z0-9+.-]+):([0-9]+)$/.exec(target);
  if (server) span.setAttributes({ 'server.address': server[1], 'server.port': Number(server[2]) });
  propagation.inject(trace.setSpan(active, span), metadata, setter);
  return span;
}
