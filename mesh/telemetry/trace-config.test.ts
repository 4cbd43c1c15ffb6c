import { ConfigError } from '../config/index.js';
import { tracingConfigFromEnv } from './trace-config.js';

describe('tracingConfigFromEnv', () => {
  test('by default every trace is recorded (parent-based, always on) and the mesh makes the gRPC spans', () => {
    const c = tracingConfigFromEnv({});
    expect(c.sampler.toString()).toBe(
      'ParentBased{root=AlwaysOnSampler, remoteParentSampled=AlwaysOnSampler, remoteParentNotSampled=AlwaysOffSampler, localParentSampled=AlwaysOnSampler, localParentNotSampled=AlwaysOffSampler}',
    );
    expect(c.grpcSpans).toBe('mesh');
  });

  test('the standard sampler variables choose the sampler and its ratio', () => {
    const ratio = tracingConfigFromEnv({
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.1',
    });
    expect(ratio.sampler.toString()).toMatch(/^ParentBased\{root=TraceIdRatioBased\{0\.1\}/);
    expect(tracingConfigFromEnv({ OTEL_TRACES_SAMPLER: 'always_off' }).sampler.toString()).toBe('AlwaysOffSampler');
    // Read case-insensitively, as the specification asks.
    expect(tracingConfigFromEnv({ OTEL_TRACES_SAMPLER: 'Always_Off' }).sampler.toString()).toBe('AlwaysOffSampler');
    expect(tracingConfigFromEnv({ AGENTMESH_TRACING_GRPC: 'instrumentation' }).grpcSpans).toBe('instrumentation');
  });

  test.each([
    [{ OTEL_TRACES_SAMPLER: 'jaeger_remote' }, 'OTEL_TRACES_SAMPLER'],
    [{ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '10%' }, 'OTEL_TRACES_SAMPLER_ARG'],
    [{ OTEL_TRACES_SAMPLER_ARG: '1.5' }, 'OTEL_TRACES_SAMPLER_ARG'],
    [{ AGENTMESH_TRACING_GRPC: 'both' }, 'AGENTMESH_TRACING_GRPC'],
  ])('%j stops the process with a ConfigError naming %s', (env, variable) => {
    expect(() => tracingConfigFromEnv(env)).toThrow(ConfigError);
    expect(() => tracingConfigFromEnv(env)).toThrow(`invalid configuration: ${variable}`);
  });
});
