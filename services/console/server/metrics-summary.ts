/** One sample of a Prometheus text exposition. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The few numbers an operator looks at first. */
export interface MetricsSummary {
  /** gRPC calls handled. */
  calls: number;
  /** Calls the server failed (see SERVER_FAULTS); answered refusals and lookups are not faults. */
  faults: number;
  /** Mean handling time of unary calls in milliseconds (streams last as long as they follow something); undefined before the first. */
  meanLatencyMs: number | undefined;
  /** The histogram bucket bound (ms) that 95 % of calls stayed within. */
  p95LatencyMs: number | undefined;
  /** agentmesh_tasks by state (agents only). */
  tasksByState: Record<string, number>;
  /** Tasks not yet terminal. */
  pendingTasks: number | undefined;
  /** Tool invocations by outcome (tool services only). */
  toolInvocations: Record<string, number>;
  /** Resident memory in bytes. */
  residentBytes: number | undefined;
}

/**
 * The codes that mean the server failed the call: those google.rpc.Code maps to HTTP 5xx. The
 * others are answers — NOT_FOUND to a lookup, INVALID_ARGUMENT, PERMISSION_DENIED, a CAS that
 * lost (ABORTED), a limit (RESOURCE_EXHAUSTED), a caller that gave up (CANCELLED) — and a
 * healthy service gives them all day.
 */
export const SERVER_FAULTS: ReadonlySet<string> = new Set([
  'UNKNOWN',
  'INTERNAL',
  'UNIMPLEMENTED',
  'UNAVAILABLE',
  'DEADLINE_EXCEEDED',
  'DATA_LOSS',
]);

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses the samples of a Prometheus text exposition (comments and malformed lines are skipped). */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL))
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const value = Number(m[3]);
    if (!Number.isNaN(value)) samples.push({ name: m[1]!, labels, value });
  }
  return samples;
}

const sum = (samples: Sample[]) => samples.reduce((n, s) => n + s.value, 0);

function byLabel(samples: Sample[], label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) out[s.labels[label] ?? ''] = (out[s.labels[label] ?? ''] ?? 0) + s.value;
  return out;
}

/** The smallest finite bucket bound (ms) holding 95 % of all observations, summed over every method. */
function p95(buckets: Sample[], count: number): number | undefined {
  if (count === 0) return undefined;
  const cumulative = Object.entries(byLabel(buckets, 'le'))
    .map(([le, n]) => ({ bound: le === '+Inf' ? Infinity : Number(le), n }))
    .sort((a, b) => a.bound - b.bound);
  const bound = cumulative.find((b) => b.n >= 0.95 * count)?.bound;
  return bound === undefined || bound === Infinity ? undefined : bound * 1000;
}

/** Summarises a service's /metrics: calls, server faults, latency, tasks by state, tool outcomes, memory. */
export function summarizeMetrics(text: string): MetricsSummary {
  const samples = parsePrometheus(text);
  const named = (name: string) => samples.filter((s) => s.name === name);
  const handled = named('grpc_server_handled_total');
  // Server streams (SubscribeTask, Watch) stay open as long as they follow something: not latency.
  const unary = (name: string) => named(name).filter((s) => (s.labels.grpc_type ?? 'unary') === 'unary');
  const count = sum(unary('grpc_server_handling_seconds_count'));
  const pending = named('agentmesh_pending_tasks');
  const memory = named('process_resident_memory_bytes');
  return {
    calls: sum(handled),
    faults: sum(handled.filter((s) => SERVER_FAULTS.has(s.labels.grpc_code ?? ''))),
    meanLatencyMs: count
      ? Math.round((sum(unary('grpc_server_handling_seconds_sum')) / count) * 10_000) / 10
      : undefined,
    p95LatencyMs: p95(unary('grpc_server_handling_seconds_bucket'), count),
    tasksByState: byLabel(named('agentmesh_tasks'), 'state'),
    pendingTasks: pending.length ? sum(pending) : undefined,
    toolInvocations: byLabel(named('agentmesh_tool_invocations_total'), 'outcome'),
    residentBytes: memory.length ? memory[0]!.value : undefined,
  };
}
