// Where one demo task's time goes, read from what the mesh already records: the JSON-lines span
// files the launcher has every service write (AGENTMESH_TRACE_FILE, mesh/telemetry/tracing.ts).
// A task is one trace: the orchestrator's SendTask, its task span, a span per plan step, the
// gRPC client spans of every call (Discover, InvokeTool, SendTask, SubscribeTask, GetTask), and
// the same again inside each collaborating agent's child task.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One span as JsonLinesSpanExporter writes it. */
interface Span {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  start: string;
  durationMs: number;
  attributes: Record<string, unknown>;
}

const CLIENT = 2;
const SERVER = 1;

/** Every span the mesh's services wrote under `home`/traces. */
export function readSpans(home: string): Span[] {
  const dir = join(home, 'traces');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) =>
    readFileSync(join(dir, f), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Span),
  );
}

/** The stages of one task, in ms (and how many calls each stage made), summed over the task and its child tasks. */
export type Stages = Record<string, { ms: number; calls: number }>;

const rpc = (s: Span, method: string) => s.kind === CLIENT && s.name.endsWith(`/${method}`);
const startOf = (s: Span) => Date.parse(s.start);
const endOf = (s: Span) => startOf(s) + s.durationMs;

/** Total length of the union of intervals. */
function covered(intervals: [number, number][]): number {
  let total = 0;
  let until = -Infinity;
  for (const [a, b] of [...intervals].sort((x, y) => x[0] - y[0])) {
    if (b <= until) continue;
    total += b - Math.max(a, until);
    until = b;
  }
  return total;
}

/**
 * The stages of the task `taskId` (the orchestrator's), from the spans of its trace: undefined
 * until its task span has been exported. Calls are counted on the caller's side (the client span,
 * which includes the network and the callee); "step bookkeeping" is a step's time outside its calls
 * (the caller-token exchange before an agent call, the step's state writes), "between steps" the
 * task's time outside planning and its steps (step transitions written, the DAG scheduling the next).
 */
export function stagesOf(spans: Span[], taskId: string): Stages | undefined {
  const root = spans.find((s) => s.name.startsWith('task ') && s.attributes['agentmesh.task.id'] === taskId);
  if (!root) return undefined;
  const trace = spans.filter((s) => s.traceId === root.traceId);
  const stages: Stages = {};
  const add = (stage: string, ms: number, calls = 0) => {
    const s = (stages[stage] ??= { ms: 0, calls: 0 });
    s.ms += ms;
    s.calls += calls;
  };
  const accepted = trace.find((s) => s.kind === SERVER && s.spanId === root.parentSpanId);
  if (accepted) {
    add('end to end (orchestrator SendTask)', accepted.durationMs, 1);
    add('accept (SendTask until the task runs)', startOf(root) - startOf(accepted));
  }
  for (const [stage, method] of [
    ['discovery (Discover)', 'Discover'],
    ['tool calls (InvokeTool, caller side)', 'InvokeTool'],
    ['child task submit (SendTask)', 'SendTask'],
    ['waiting for child tasks (SubscribeTask)', 'SubscribeTask'],
    ['child task follow-up (GetTask)', 'GetTask'],
  ] as const)
    for (const s of trace.filter((x) => rpc(x, method))) add(stage, s.durationMs, 1);
  for (const s of trace.filter((x) => x.name.startsWith('tool ') && x.kind !== CLIENT))
    add('tool handlers', s.durationMs, 1);
  for (const task of trace.filter((s) => s.name.startsWith('task '))) {
    const steps = trace.filter((s) => s.name.startsWith('step ') && s.parentSpanId === task.spanId);
    const firstStep = Math.min(...steps.map(startOf));
    add('planning (task start to first step)', Number.isFinite(firstStep) ? firstStep - startOf(task) : 0, 1);
    for (const step of steps) {
      const calls = trace.filter((c) => c.kind === CLIENT && c.parentSpanId === step.spanId);
      add(
        'step bookkeeping (token exchange, step writes)',
        step.durationMs - covered(calls.map((c) => [startOf(c), endOf(c)])),
      );
    }
    const busy = covered(steps.map((s) => [startOf(s), endOf(s)]));
    const planning = Number.isFinite(firstStep) ? firstStep - startOf(task) : 0;
    add('between steps and finishing (transitions, scheduling)', task.durationMs - busy - planning);
  }
  return stages;
}
