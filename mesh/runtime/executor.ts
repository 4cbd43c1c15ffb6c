import { SpanStatusCode, trace } from '@opentelemetry/api';
import type { CollaboratorChoice, StepAttempt, StepExecution, Substitution, TokenUsage } from '../../gen/agentmesh/v1/explain.js';
import { StepState, type PlanStep, type TaskPlan } from '../../gen/agentmesh/v1/plan.js';
import type { TaskRef } from '../../gen/agentmesh/v1/task.js';
import { Code, codeName, MeshError } from '../server/errors.js';
import { meshTracer } from '../telemetry/tracing.js';
import { evaluateCondition } from './cel.js';
import { backoffMs, CircuitBreaker, RETRYABLE, sleep, type RetrySettings } from './retry.js';
import { compileSchema } from './schema-validator.js';
import { substitute } from './substitution.js';

/** One attempt of a step, as handed to the runner that calls the collaborator. */
export interface StepCall {
  taskId: string;
  step: PlanStep;
  args: Record<string, unknown>;
  /** An LLM step's prompt with its templates substituted. */
  prompt?: string;
  attempt: number;
  /** Derived from task, step and attempt: a re-sent call after a crash is recognised by the tool. */
  idempotencyKey: string;
  signal: AbortSignal;
  /** When this attempt's time is up (epoch ms): outgoing calls take their deadlines from it. */
  deadline: number;
  /** Called as soon as an agent step's child task exists, so a failed attempt still names it. */
  childTaskCreated(ref: TaskRef): void;
}

/** What a runner reports of a successful call. */
export interface StepResult {
  output: unknown;
  /** The task the step created on a collaborating agent. */
  childTask?: TaskRef;
  /** The model an LLM step used, and its token usage. */
  model?: string;
  usage?: TokenUsage;
  /** Which collaborator instance was called, and why it was chosen (without step_id). */
  choice?: Omit<CollaboratorChoice, 'stepId'>;
}

/** Calls collaborators (tools, agents, models) for tool, agent and LLM steps. */
export interface StepRunner {
  run(call: StepCall): Promise<StepResult>;
  /** The collaborator a step calls, for circuit breaking ("tool:ns/name#tool", "agent:ns/name"...). */
  collaborator(step: PlanStep): string;
}

/** Where the executor persists every transition before acting on it. */
export interface ExecutionHooks {
  stepStarted(stepId: string, attempt: number): Promise<void>;
  /** `choice` is the collaborator that produced the step's output, when the runner reported one. */
  stepFinished(execution: StepExecution, choice?: CollaboratorChoice): Promise<void>;
  substituted(log: Substitution[]): Promise<void>;
}

/** What is already known when (re)starting: outputs of finished steps, interrupted attempts, answers from people. */
export interface ExecutionState {
  outputs: Record<string, unknown>;
  skipped: string[];
  /** Steps whose attempt started but never finished (crash): resumed with the same attempt number. */
  interrupted: Record<string, number>;
  /** Answers given with ProvideInput, by human step id. */
  answers: Record<string, unknown>;
}

/** How a run ended. */
export type ExecutionOutcome =
  | { status: 'completed'; outputs: Record<string, unknown> }
  | { status: 'input_required'; step: PlanStep; /** The question with its templates substituted. */ prompt: string }
  | { status: 'failed'; stepId: string; code: Code; reason: string };

/** Executor settings. */
export interface ExecutorOptions {
  taskId: string;
  input: unknown;
  runner: StepRunner;
  hooks: ExecutionHooks;
  signal: AbortSignal;
  /** Independent steps run at most this many at a time. */
  parallelism?: number;
  retry?: RetrySettings;
  /** Per-attempt timeout when the step sets none. */
  stepTimeoutMs?: number;
  /** Shared across tasks of an agent, one per collaborator. */
  breakers: Map<string, CircuitBreaker>;
  state: ExecutionState;
}

const DEFAULT_RETRY: RetrySettings = { maxAttempts: 3, initialBackoffMs: 200, maxBackoffMs: 5_000 };
const ms = (d: { seconds: number; nanos: number } | undefined) => (d ? d.seconds * 1000 + d.nanos / 1e6 : undefined);

function duration(millis: number) {
  return { seconds: Math.floor(millis / 1000), nanos: Math.round((millis % 1000) * 1e6) };
}

type StepEnd = { ok: true; output: unknown; choice?: CollaboratorChoice } | { ok: false; skipped: true; reason: string } | { ok: false; skipped: false; code: Code; reason: string };

/**
 * Runs a plan deterministically: steps as a DAG in plan order, independent
 * ones in parallel (bounded), run_if conditions, substitution from the input
 * and earlier outputs, retries with backoff on retryable codes only, a
 * circuit breaker per collaborator, acceptance criteria, and human steps that
 * pause the run until an answer exists. Every transition goes through the
 * hooks (persisted) before it is acted on.
 */
export async function execute(plan: TaskPlan, o: ExecutorOptions): Promise<ExecutionOutcome> {
  // A skipped step's output is null, so later steps can refer to an optional step (${steps.approve.output} → null).
  const outputs: Record<string, unknown> = { ...Object.fromEntries(o.state.skipped.map((id) => [id, null])), ...o.state.outputs };
  const finished = new Set<string>([...Object.keys(outputs), ...o.state.skipped]);
  const running = new Map<string, Promise<void>>();
  const parallelism = o.parallelism ?? 4;
  let failure: ExecutionOutcome | undefined;
  let waiting: PlanStep | undefined;

  const ready = () =>
    plan.steps.filter((s) => !finished.has(s.id) && !running.has(s.id) && s.dependsOn.every((d) => finished.has(d)));

  for (;;) {
    o.signal.throwIfAborted();
    if (!failure && !waiting) {
      for (const step of ready()) {
        if (running.size >= parallelism) break;
        if (step.target?.$case === 'human' && !(step.id in o.state.answers)) {
          if (!(await conditionHolds(step, o, outputs))) {
            running.set(step.id, finish(step, { ok: false, skipped: true, reason: `run_if false: ${step.runIf}` }, [], o).then(() => {
              outputs[step.id] = null;
              finished.add(step.id);
            }));
            continue;
          }
          waiting = step;
          break;
        }
        running.set(
          step.id,
          runStep(step, o, outputs).then(async ({ end, attempts }) => {
            await finish(step, end, attempts, o);
            if (end.ok || end.skipped) outputs[step.id] = end.ok ? end.output : null;
            else failure ??= { status: 'failed', stepId: step.id, code: end.code, reason: end.reason };
            finished.add(step.id);
          }),
        );
      }
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
    for (const id of [...running.keys()]) if (finished.has(id)) running.delete(id);
  }
  if (failure) return failure;
  if (waiting) return { status: 'input_required', step: waiting, prompt: await humanPrompt(waiting, o, outputs) };
  return { status: 'completed', outputs };
}

async function conditionHolds(step: PlanStep, o: ExecutorOptions, outputs: Record<string, unknown>): Promise<boolean> {
  if (!step.runIf) return true;
  const steps = Object.fromEntries(Object.entries(outputs).map(([id, output]) => [id, { output }]));
  return evaluateCondition(step.runIf, { input: o.input, steps });
}

/** The substitution scope of a step: the task input and the outputs so far. */
const scopeOf = (o: ExecutorOptions, outputs: Record<string, unknown>) => ({
  input: o.input,
  steps: Object.fromEntries(Object.entries(outputs).map(([id, output]) => [id, { output }])),
});

/** A prompt (LLM or human step) with its templates substituted; logged with the path "#prompt" (not an argument). */
async function substitutePrompt(step: PlanStep, prompt: string, o: ExecutorOptions, outputs: Record<string, unknown>): Promise<string> {
  if (!prompt.includes('${')) return prompt;
  const { value, log } = substitute(step.id, { prompt }, scopeOf(o, outputs));
  await o.hooks.substituted(log.map((entry) => ({ ...entry, path: '#prompt' })));
  return String(value.prompt);
}

async function humanPrompt(step: PlanStep, o: ExecutorOptions, outputs: Record<string, unknown>): Promise<string> {
  const prompt = step.target?.$case === 'human' ? step.target.human.prompt : '';
  return substitutePrompt(step, prompt, o, outputs);
}

async function finish(step: PlanStep, end: StepEnd, attempts: StepAttempt[], o: ExecutorOptions): Promise<void> {
  await o.hooks.stepFinished({
    stepId: step.id,
    state: end.ok ? StepState.STEP_STATE_SUCCEEDED : end.skipped ? StepState.STEP_STATE_SKIPPED : StepState.STEP_STATE_FAILED,
    attempts,
    output: end.ok ? end.output : undefined,
    reason: end.ok ? '' : end.reason,
  }, end.ok ? end.choice : undefined);
}

function accept(step: PlanStep, output: unknown, o: ExecutorOptions, outputs: Record<string, unknown>): void {
  compileSchema(step.acceptance?.outputSchema).assert(output, 'output', Code.FAILED_PRECONDITION);
  const steps = Object.fromEntries(Object.entries(outputs).map(([id, out]) => [id, { output: out }]));
  for (const expr of step.acceptance?.cel ?? []) {
    if (!evaluateCondition(expr, { input: o.input, output, steps })) {
      throw new MeshError(Code.FAILED_PRECONDITION, `acceptance criterion not met: ${expr}`);
    }
  }
}

async function runStep(step: PlanStep, o: ExecutorOptions, outputs: Record<string, unknown>): Promise<{ end: StepEnd; attempts: StepAttempt[] }> {
  const attempts: StepAttempt[] = [];
  try {
    if (!(await conditionHolds(step, o, outputs))) return { end: { ok: false, skipped: true, reason: `run_if false: ${step.runIf}` }, attempts };
    if (step.target?.$case === 'human') {
      const answer = o.state.answers[step.id];
      accept(step, answer, o, outputs);
      return { end: { ok: true, output: answer }, attempts };
    }
    const { value: args, log } = substitute(step.id, step.arguments, scopeOf(o, outputs));
    await o.hooks.substituted(log);
    const prompt = step.target?.$case === 'llm' ? await substitutePrompt(step, step.target.llm.prompt, o, outputs) : undefined;
    const retry = {
      maxAttempts: step.retry?.maxAttempts || o.retry?.maxAttempts || DEFAULT_RETRY.maxAttempts,
      initialBackoffMs: ms(step.retry?.initialBackoff) ?? o.retry?.initialBackoffMs ?? DEFAULT_RETRY.initialBackoffMs,
      maxBackoffMs: ms(step.retry?.maxBackoff) ?? o.retry?.maxBackoffMs ?? DEFAULT_RETRY.maxBackoffMs,
    };
    const name = o.runner.collaborator(step);
    const breaker = o.breakers.get(name) ?? new CircuitBreaker(name);
    o.breakers.set(name, breaker);
    for (let attempt = o.state.interrupted[step.id] ?? 1; ; attempt++) {
      const outcome = await meshTracer().startActiveSpan(
        `step ${step.id}`,
        { attributes: { 'agentmesh.task.id': o.taskId, 'agentmesh.step.id': step.id, 'agentmesh.step.kind': step.target?.$case ?? 'none', 'agentmesh.step.attempt': attempt, 'agentmesh.collaborator': name } },
        async (span) => {
          try {
            const result = await attemptStep(step, { args, prompt, attempt, retry, breaker }, o, outputs, attempts);
            const failed = 'end' in result ? (result.end.ok ? undefined : result.end.reason) : attempts.at(-1)?.error;
            if (failed !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: failed });
            return result;
          } finally {
            span.end();
          }
        },
      );
      if ('end' in outcome) return { end: outcome.end, attempts };
      await sleep(backoffMs(attempt + 1, retry), o.signal);
    }
  } catch (err) {
    o.signal.throwIfAborted();
    const error = MeshError.from(err);
    return { end: { ok: false, skipped: false, code: error.code, reason: error.message }, attempts };
  }
}

type AttemptOutcome = { end: StepEnd } | { retry: true };

/** One attempt of a step: breaker, persisted start, the call, acceptance; says whether to retry. */
async function attemptStep(
  step: PlanStep,
  a: { args: Record<string, unknown>; prompt: string | undefined; attempt: number; retry: RetrySettings; breaker: CircuitBreaker },
  o: ExecutorOptions,
  outputs: Record<string, unknown>,
  attempts: StepAttempt[],
): Promise<AttemptOutcome> {
  const { args, prompt, attempt, retry, breaker } = a;
  const started = new Date();
  const record: StepAttempt = {
    attempt, startedAt: started, finishedAt: undefined, duration: undefined, code: 'OK', error: '',
    traceId: trace.getActiveSpan()?.spanContext().traceId ?? '', childTask: undefined, idempotencyKey: `${o.taskId}:${step.id}:${attempt}`, model: '', usage: undefined,
  };
  attempts.push(record);
  const close = (code: string, error = '') => Object.assign(record, { finishedAt: new Date(), duration: duration(Date.now() - started.getTime()), code, error });
  const timeoutMs = ms(step.timeout) ?? o.stepTimeoutMs ?? 30_000;
  const timeout = AbortSignal.timeout(timeoutMs);
  let admitted = false;
  let called = false;
  try {
    breaker.admit();
    admitted = true;
    await o.hooks.stepStarted(step.id, attempt);
    const result = await o.runner.run({
      taskId: o.taskId, step, args, prompt, attempt, idempotencyKey: record.idempotencyKey, signal: AbortSignal.any([o.signal, timeout]),
      deadline: started.getTime() + timeoutMs,
      childTaskCreated: (ref) => void (record.childTask = ref),
    });
    called = true;
    breaker.succeeded();
    Object.assign(record, { childTask: result.childTask ?? record.childTask, model: result.model ?? '', usage: result.usage });
    close('OK');
    accept(step, result.output, o, outputs);
    return { end: { ok: true, output: result.output, choice: result.choice ? { stepId: step.id, ...result.choice } : undefined } };
  } catch (err) {
    o.signal.throwIfAborted();
    const error = timeout.aborted && !called ? new MeshError(Code.DEADLINE_EXCEEDED, `step ${step.id} timed out`) : MeshError.from(err);
    if (called) {
      // The call succeeded; its output failed acceptance: not a collaborator failure, not retried.
      return { end: { ok: false, skipped: false, code: error.code, reason: error.message } };
    }
    if (admitted) breaker.failed();
    close(codeName(error.code), error.message);
    // An open circuit fails the step at once: retrying into it would only wait.
    if (!admitted || !RETRYABLE.has(error.code) || attempt >= retry.maxAttempts) {
      return { end: { ok: false, skipped: false, code: error.code, reason: `${error.message} (attempt ${attempt} of ${retry.maxAttempts})` } };
    }
    return { retry: true };
  }
}
