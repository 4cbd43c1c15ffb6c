import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
} from '@opentelemetry/sdk-trace-base';
import { z } from 'zod';
import { loadConfig } from '../config/index.js';

const SAMPLERS = [
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
  'always_on',
  'always_off',
  'traceidratio',
] as const;

/**
 * The tracing settings of a process: the standard OpenTelemetry sampler variables (read
 * here, not by the SDK, so that a wrong value stops the process instead of silently
 * sampling everything) and who makes the spans of gRPC calls.
 */
const tracingSchema = z.object({
  // Case-insensitive, as the OpenTelemetry specification reads enum values of its variables.
  OTEL_TRACES_SAMPLER: z
    .preprocess(
      (v) => (typeof v === 'string' ? v.toLowerCase() : v),
      z.enum(SAMPLERS, { error: `must be one of ${SAMPLERS.join(', ')}` }),
    )
    .default('parentbased_always_on'),
  OTEL_TRACES_SAMPLER_ARG: z.coerce
    .number({ error: 'must be a number between 0 and 1' })
    .min(0, 'must be between 0 and 1')
    .max(1, 'must be between 0 and 1')
    .default(1),
  AGENTMESH_TRACING_GRPC: z
    .enum(['mesh', 'instrumentation'], { error: 'must be mesh or instrumentation' })
    .default('mesh'),
});

/** What initTracing needs from the environment. */
export interface TracingConfig {
  /** Decides which new traces are recorded; parent-based samplers follow the caller's decision. */
  sampler: Sampler;
  /** `mesh`: the server kernel and client make the gRPC spans; `instrumentation`: OpenTelemetry's GrpcInstrumentation does. */
  grpcSpans: 'mesh' | 'instrumentation';
}

/** Reads the tracing settings; an invalid one throws a ConfigError naming the variable. */
export function tracingConfigFromEnv(env: NodeJS.ProcessEnv = process.env): TracingConfig {
  const c = loadConfig(tracingSchema, env);
  const ratio = new TraceIdRatioBasedSampler(c.OTEL_TRACES_SAMPLER_ARG);
  const sampler: Record<(typeof SAMPLERS)[number], () => Sampler> = {
    parentbased_always_on: () => new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    parentbased_always_off: () => new ParentBasedSampler({ root: new AlwaysOffSampler() }),
    parentbased_traceidratio: () => new ParentBasedSampler({ root: ratio }),
    always_on: () => new AlwaysOnSampler(),
    always_off: () => new AlwaysOffSampler(),
    traceidratio: () => ratio,
  };
  return { sampler: sampler[c.OTEL_TRACES_SAMPLER](), grpcSpans: c.AGENTMESH_TRACING_GRPC };
}
