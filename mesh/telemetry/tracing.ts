import { appendFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { trace, type Tracer } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { tracingConfigFromEnv } from './trace-config.js';
import { setGrpcTracer } from './trace-grpc.js';

/** Writes finished spans as JSON lines, so traces can be read without a collector. */
export class JsonLinesSpanExporter implements SpanExporter {
  constructor(private readonly file: string) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    try {
      const lines = spans.map((s) =>
        JSON.stringify({
          service: s.resource.attributes['service.name'],
          traceId: s.spanContext().traceId,
          spanId: s.spanContext().spanId,
          parentSpanId: s.parentSpanContext?.spanId,
          name: s.name,
          kind: s.kind,
          start: new Date(s.startTime[0] * 1000 + s.startTime[1] / 1e6).toISOString(),
          durationMs: s.duration[0] * 1000 + s.duration[1] / 1e6,
          status: s.status,
          attributes: s.attributes,
        }),
      );
      if (lines.length) appendFileSync(this.file, lines.join('\n') + '\n');
      done({ code: ExportResultCode.SUCCESS });
    } catch (error) {
      done({ code: ExportResultCode.FAILED, error: error as Error });
    }
  }

  async shutdown(): Promise<void> {}
}

let provider: NodeTracerProvider | undefined;

/**
 * Sets up OpenTelemetry for this process: the Node tracer provider with W3C
 * trace-context and baggage propagation and the sampler of OTEL_TRACES_SAMPLER
 * (trace-config.ts), spans of gRPC calls (by the mesh's server kernel and client,
 * trace-grpc.ts, or by OpenTelemetry's GrpcInstrumentation when
 * AGENTMESH_TRACING_GRPC=instrumentation), OTLP export when the standard
 * OTEL_EXPORTER_OTLP_* variables are set, and a JSON-lines file when given.
 * Must run before @grpc/grpc-js is first imported (see preload.ts).
 */
export function initTracing(options: { service: string; file?: string; env?: NodeJS.ProcessEnv }): void {
  if (provider) return;
  const env = options.env ?? process.env;
  const config = tracingConfigFromEnv(env);
  const processors: SpanProcessor[] = [];
  const load = createRequire(import.meta.url);
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) {
    // Loaded only when configured: the exporter and its HTTP stack cost ~90 ms at every start.
    const { OTLPTraceExporter } = load(
      '@opentelemetry/exporter-trace-otlp-http',
    ) as typeof import('@opentelemetry/exporter-trace-otlp-http');
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
  }
  if (options.file)
    processors.push(new BatchSpanProcessor(new JsonLinesSpanExporter(options.file), { scheduledDelayMillis: 200 }));
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.service }),
    sampler: config.sampler,
    spanProcessors: processors,
  });
  provider.register();
  if (config.grpcSpans === 'instrumentation') {
    // Loaded only when chosen: it patches grpc-js (so the preload must load grpc-js after this) and
    // also traces raw grpc-js clients of other libraries, for a measured cost per call (docs/observability.md).
    const { registerInstrumentations } = load(
      '@opentelemetry/instrumentation',
    ) as typeof import('@opentelemetry/instrumentation');
    const { GrpcInstrumentation } = load(
      '@opentelemetry/instrumentation-grpc',
    ) as typeof import('@opentelemetry/instrumentation-grpc');
    registerInstrumentations({ instrumentations: [new GrpcInstrumentation()], tracerProvider: provider });
  } else setGrpcTracer(provider.getTracer('agentmesh-grpc'));
}

/** Flushes and stops span export (graceful shutdown). */
export async function shutdownTracing(): Promise<void> {
  setGrpcTracer(undefined);
  await provider?.shutdown();
  provider = undefined;
}

/** The tracer for agentmesh's own spans (tasks, plan steps, tool invocations, LLM calls). */
export function meshTracer(): Tracer {
  return trace.getTracer('agentmesh');
}
