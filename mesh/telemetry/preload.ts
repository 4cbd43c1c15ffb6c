// Loaded with `node --import tsx --import ./mesh/telemetry/preload.ts <main>`:
// registers the import hook that lets the OpenTelemetry gRPC instrumentation
// patch @grpc/grpc-js under ESM, then starts tracing before any service code
// imports grpc-js.
import { register } from 'node:module';

register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
const { initTracing } = await import('./tracing.js');
initTracing({
  service: process.env.OTEL_SERVICE_NAME ?? process.env.AGENTMESH_SERVICE ?? 'agentmesh',
  file: process.env.AGENTMESH_TRACE_FILE || undefined,
});
