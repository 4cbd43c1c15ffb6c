import { appendFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { trace, type Tracer } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

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
 * trace-context and baggage propagation, the gRPC instrumentation (client and
 * server spans, `traceparent` in metadata), OTLP export when the standard
 * OTEL_EXPORTER_OTLP_* variables are set, and a JSON-lines file when given.
 * Must run before @grpc/grpc-js is first imported (see preload.ts).
 */
export function initTracing(options: { service: string; file?: string; env?: NodeJS.ProcessEnv }): void {
  if (provider) return;
  const env = options.env ?? process.env;
  const processors: SpanProcessor[] = [];
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) {
    // Loaded only when configured: the exporter and its HTTP stack cost ~90 ms at every start.
    const { OTLPTraceExporter } = createRequire(import.meta.url)(
      '@opentelemetry/exporter-trace-otlp-http',
    ) as typeof import('@opentelemetry/exporter-trace-otlp-http');
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
  }
  if (options.file)
    processors.push(new BatchSpanProcessor(new JsonLinesSpanExporter(options.file), { scheduledDelayMillis: 200 }));
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.service }),
    spanProcessors: processors,
  });
  provider.register();
  registerInstrumentations({ instrumentations: [new GrpcInstrumentation()], tracerProvider: provider });
}

/** Flushes and stops span export (graceful shutdown). */
export async function shutdownTracing(): Promise<void> {
  await provider?.shutdown();
  provider = undefined;
}

/** The tracer for agentmesh's own spans (tasks, plan steps, tool invocations, LLM calls). */
export function meshTracer(): Tracer {
  return trace.getTracer('agentmesh');
}
