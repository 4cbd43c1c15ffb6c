// Loaded with `node --import tsx --import ./mesh/telemetry/preload.ts <main>`: starts tracing
// before any service code imports grpc-js. The spans of gRPC calls come from the mesh's server
// kernel and client (trace-grpc.ts); with AGENTMESH_TRACING_GRPC=instrumentation, OpenTelemetry's
// GrpcInstrumentation makes them instead, which patches grpc-js by hooking require: hence grpc-js
// is then loaded once through require, and every later `import ... from '@grpc/grpc-js'` of the
// ESM code gets that same, patched, module from the CommonJS cache. This replaces
// import-in-the-middle's ESM loader hook, whose loader thread every module import had to pass
// through: about 0.5 s more to start and 35 MB more memory (npm run bench -- startup).
import { createRequire } from 'node:module';

const { initTracing } = await import('./tracing.js');
initTracing({
  service: process.env.OTEL_SERVICE_NAME ?? process.env.AGENTMESH_SERVICE ?? 'agentmesh',
  file: process.env.AGENTMESH_TRACE_FILE || undefined,
});
createRequire(import.meta.url)('@grpc/grpc-js');
