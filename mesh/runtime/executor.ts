import { SpanStatusCode, trace } from '@opentelemetry/api';
import type {
  CollaboratorChoice,
  StepAttempt,
  StepExecution,
  Substitution,
  TokenUsage,
} from '../../gen/agentmesh/v1/explain.js';
import { StepState, type PlanStep, type TaskPlan } from '../../gen/agentmesh/v1/plan.js';
import type { TaskRef } from '../../gen/agentmesh/v1/task.js';
import { Code, codeName, isMeshError, MeshError } from '../core/index.js';
import { meshTracer } from '../telemetry/index.js';
import { evaluateCondition } from './cel.js';
import { backoffMs, CircuitBreaker, showsUnhealthy, sleep, worthRetrying, type RetrySettings } from './retry.js';
import { compileSchema } from './schema-validator.js';
import { substitute } from './substitution.js';

/** How close to a deadline a DEADLINE_EXCEEDED answer counts as that deadline passing (timers fire a little early). */
const DEADLINE_SLACK_MS = 50;

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
  /** Called when the runner stopped what the attempt started (canceled the child task): a retry must not take it up again. */
  childTaskStopped?(): void;
  /**
   * Persists that this attempt's request is about to go out (resolves once durable). A runner
   * whose collaborator cannot recognise a re-sent request calls it just before sending, so that
   * after a crash the resumed attempt knows whether the first may have acted.
   */
  sending?(): Promise<void>;
  /**
   * Set when this attempt re-sends the key of an earlier one that failed ambiguously (or was cut off
   * by a restart): the child task that attempt recorded, if any, to be taken up instead of re-sent.
   * `requestSent`: the attempt cut off by a restart had called sending() (its request may have
   * acted). Not set for a retry in the same process: the runner classified that failure itself.
   */
  resumes?: { childTask?: TaskRef; requestSent?: boolean };
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

const AUTHORITY_REQUIRED = Symbol.for('agentmesh.authority-required');

/**
 * The error a runner throws when the step must act for the task's caller and
 * this process holds no valid token of theirs (it restarted, or the token
 * expired while the task waited): the run pauses (AUTH_REQUIRED) instead of
 * failing, and the step is re-sent under the same key once the caller is back.
 */
export function authorityRequired(message: string): MeshError {
  return new MeshError(Code.UNAUTHENTICATED, message, { cause: AUTHORITY_REQUIRED });
}

/** Whether `err` is the pause of authorityRequired. */
export const isAuthorityRequired = (err: unknown): boolean => isMeshError(err) && err.cause === AUTHORITY_REQUIRED;

const OUTCOME_UNKNOWN = Symbol.for('agentmesh.outcome-unknown');

/**
 * The error a runner throws when a call that cannot be repeated safely (a tool not
 * marked idempotent, with no idempotency key the collaborator honours) failed after
 * it was sent: nobody knows whether it acted. UNKNOWN, and never retried, even when
 * the step's deadline passed meanwhile (a DEADLINE_EXCEEDED would be).
 */
export function outcomeUnknown(message: string, cause?: unknown): MeshError {
  return Object.assign(new MeshError(Code.UNKNOWN, message, { cause }), { [OUTCOME_UNKNOWN]: true });
}

/** Whether `err` is an outcomeUnknown failure. */
const isOutcomeUnknown = (err: unknown): boolean =>
  isMeshError(err) && (err as unknown as Record<symbol, unknown>)[OUTCOME_UNKNOWN] === true;

/** Where the executor persists every transition before acting on it. */
export interface ExecutionHooks {
  /** `idempotencyKey` is the attempt's key: persisted with the start, a resumed attempt is re-sent under it. */
  stepStarted(stepId: string, attempt: number, idempotencyKey: string): Promise<void>;
  /** `choice` is the collaborator that produced the step's output, when the runner reported one. */
  stepFinished(execution: StepExecution, choice?: CollaboratorChoice): Promise<void>;
  substituted(log: Substitution[]): Promise<void>;
  /** Persists that the attempt's request is going out (StepCall.sending); restored as ExecutionState.interruptedSent. */
  requestSending?(stepId: string, attempt: number, idempotencyKey: string): Promise<void>;
}

/** What is already known when (re)starting: outputs of finished steps, interrupted attempts, answers from people. */
export interface ExecutionState {
  outputs: Record<string, unknown>;
  skipped: string[];
  /** Steps whose attempt started but never finished (crash): resumed with the same attempt number. */
  interrupted: Record<string, number>;
  /** The idempotency key each interrupted attempt was sent with, when it is not its own (see keyAfter). */
  interruptedKeys?: Record<string, string>;
  /** Interrupted steps whose attempt had sent its request (StepCall.sending): it may have acted. */
  interruptedSent?: string[];
  /** Answers given with ProvideInput, by human step id. */
  answers: Record<string, unknown>;
}

/** How a run ended. */
export type ExecutionOutcome =
  | { status: 'completed'; outputs: Record<string, unknown> }
  | { status: 'input_required'; step: PlanStep; /** The question with its templates substituted. */ prompt: string }
  | { status: 'auth_required'; stepId: string; reason: string }
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
  /** When the run must be over (epoch ms): no attempt outlives it, and outgoing calls take their deadlines from it. */
  deadline?: number;
  /** Shared across tasks of an agent, one per collaborator. */
  breakers: Map<string, CircuitBreaker>;
  state: ExecutionState;
}

const DEFAULT_RETRY: RetrySettings = { maxAttempts: 3, initialBackoffMs: 200, maxBackoffMs: 5_000 };
const ms = (d: { seconds: number; nanos: number } | undefined) => (d ? d.seconds * 1000 + d.nanos / 1e6 : undefined);

function duration(millis: number) {
  return { seconds: Math.floor(millis / 1000), nanos: Math.round((millis % 1000) * 1e6) };
}

/** The executor's options inside one run: `stop` aborts when a sibling step failed. */
type RunOptions = ExecutorOptions & { stop: AbortSignal };

type StepEnd =
  | { ok: true; output: unknown; choice?: CollaboratorChoice }
  | { ok: false; skipped: true; reason: string }
  | { ok: false; skipped: false; code: Code; reason: string }
  /** Not finished: waits for the caller's authority, and runs again under the same attempt. */
  | { ok: false; skipped: false; paused: true; reason: string };

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
  const outputs: Record<string, unknown> = {
    ...Object.fromEntries(o.state.skipped.map((id) => [id, null])),
    ...o.state.outputs,
  };
  const finished = new Set<string>([...Object.keys(outputs), ...o.state.skipped]);
  const running = new Map<string, Promise<void>>();
  const parallelism = o.parallelism ?? 4;
  // A failed step stops its running siblings: their work could not be used.
  const stopSiblings = new AbortController();
  const run: RunOptions = { ...o, stop: stopSiblings.signal };
  let failure: ExecutionOutcome | undefined;
  let paused: ExecutionOutcome | undefined;
  let waiting: PlanStep | undefined;

  const ready = () =>
    plan.steps.filter((s) => !finished.has(s.id) && !running.has(s.id) && s.dependsOn.every((d) => finished.has(d)));
  const done = (step: PlanStep, output: unknown) => {
    outputs[step.id] = output;
    finished.add(step.id);
  };

  for (;;) {
    o.signal.throwIfAborted();
    if (!failure && !paused) {
      for (const step of ready()) {
        if (running.size >= parallelism) break;
        if (step.target?.$case === 'human' && !(step.id in o.state.answers)) {
          if (step.id === waiting?.id) continue;
          if (!(await conditionHolds(step, o, outputs))) {
            running.set(
              step.id,
              finish(step, { ok: false, skipped: true, reason: `run_if false: ${step.runIf}` }, [], o).then(() =>
                done(step, null),
              ),
            );
            continue;
          }
          // Steps that do not depend on the person's answer go on meanwhile.
          waiting ??= step;
          continue;
        }
        running.set(
          step.id,
          runStep(step, run, outputs).then(async ({ end, attempts }) => {
            if ('paused' in end) {
              paused ??= { status: 'auth_required', stepId: step.id, reason: end.reason };
              running.delete(step.id);
              return;
            }
            await finish(step, end, attempts, o);
            if (end.ok || end.skipped) done(step, end.ok ? end.output : null);
            else {
              if (!failure) {
                failure = { status: 'failed', stepId: step.id, code: end.code, reason: end.reason };
                stopSiblings.abort(new MeshError(Code.CANCELLED, `step ${step.id} failed`));
              }
              finished.add(step.id);
            }
          }),
        );
      }
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
    for (const id of [...running.keys()]) if (finished.has(id)) running.delete(id);
  }
  if (failure) return failure;
  if (paused) return paused;
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
async function substitutePrompt(
  step: PlanStep,
  prompt: string,
  o: ExecutorOptions,
  outputs: Record<string, unknown>,
): Promise<string> {
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
  await o.hooks.stepFinished(
    {
      stepId: step.id,
      state: end.ok
        ? StepState.STEP_STATE_SUCCEEDED
        : end.skipped
          ? StepState.STEP_STATE_SKIPPED
          : StepState.STEP_STATE_FAILED,
      attempts,
      output: end.ok ? end.output : undefined,
      reason: end.ok ? '' : end.reason,
    },
    end.ok ? end.choice : undefined,
  );
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

async function runStep(
  step: PlanStep,
  o: RunOptions,
  outputs: Record<string, unknown>,
): Promise<{ end: StepEnd; attempts: StepAttempt[] }> {
  const attempts: StepAttempt[] = [];
  try {
    if (!(await conditionHolds(step, o, outputs)))
      return { end: { ok: false, skipped: true, reason: `run_if false: ${step.runIf}` }, attempts };
    if (step.target?.$case === 'human') {
      const answer = o.state.answers[step.id];
      accept(step, answer, o, outputs);
      return { end: { ok: true, output: answer }, attempts };
    }
    const { value: args, log } = substitute(step.id, step.arguments, scopeOf(o, outputs));
    await o.hooks.substituted(log);
    const prompt =
      step.target?.$case === 'llm' ? await substitutePrompt(step, step.target.llm.prompt, o, outputs) : undefined;
    const retry = {
      maxAttempts: step.retry?.maxAttempts || o.retry?.maxAttempts || DEFAULT_RETRY.maxAttempts,
      initialBackoffMs: ms(step.retry?.initialBackoff) ?? o.retry?.initialBackoffMs ?? DEFAULT_RETRY.initialBackoffMs,
      maxBackoffMs: ms(step.retry?.maxBackoff) ?? o.retry?.maxBackoffMs ?? DEFAULT_RETRY.maxBackoffMs,
    };
    const name = o.runner.collaborator(step);
    const breaker = o.breakers.get(name) ?? new CircuitBreaker(name);
    o.breakers.set(name, breaker);
    const first = o.state.interrupted[step.id] ?? 1;
    let key = o.state.interruptedKeys?.[step.id] ?? keyOf(o.taskId, step.id, first);
    for (let attempt = first; ; attempt++) {
      const outcome = await meshTracer().startActiveSpan(
        `step ${step.id}`,
        {
          attributes: {
            'agentmesh.task.id': o.taskId,
            'agentmesh.step.id': step.id,
            'agentmesh.step.kind': step.target?.$case ?? 'none',
            'agentmesh.step.attempt': attempt,
            'agentmesh.collaborator': name,
          },
        },
        async (span) => {
          try {
            const resumed = attempt === first && o.state.interrupted[step.id] !== undefined;
            const result = await attemptStep(
              step,
              { args, prompt, attempt, key, retry, breaker, resumed },
              o,
              outputs,
              attempts,
            );
            const failed = 'end' in result ? (result.end.ok ? undefined : result.end.reason) : attempts.at(-1)?.error;
            if (failed !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: failed });
            return result;
          } finally {
            span.end();
          }
        },
      );
      if ('end' in outcome) return { end: outcome.end, attempts };
      key = keyAfter(attempts.at(-1)!, o.taskId, step.id, attempt + 1);
      await sleep(backoffMs(attempt + 1, retry), AbortSignal.any([o.signal, o.stop]));
    }
  } catch (err) {
    o.signal.throwIfAborted();
    const error = MeshError.from(err);
    return { end: { ok: false, skipped: false, code: error.code, reason: error.message }, attempts };
  }
}

type AttemptOutcome = { end: StepEnd } | { retry: true };

const stoppedBySibling = (o: RunOptions) =>
  new MeshError(Code.CANCELLED, `stopped because ${MeshError.from(o.stop.reason).message}`);

const keyOf = (taskId: string, stepId: string, attempt: number) => `${taskId}:${stepId}:${attempt}`;

// Attempts whose runner stopped what they had started (a canceled child task): not ambiguous.
const stoppedAttempts = new WeakSet<StepAttempt>();

// Failures after which nobody knows whether the collaborator acted (the answer was lost, or it is still at work).
const AMBIGUOUS = new Set(['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'ABORTED']);

/**
 * The idempotency key of the next attempt: after a failure the collaborator
 * reported (it did not act, and freed the key), or one whose work the runner
 * stopped (a canceled child task), a key of the attempt's own; after an
 * ambiguous one, the same key again, so that a call that did act is answered
 * from its stored result instead of acting twice.
 */
function keyAfter(previous: StepAttempt, taskId: string, stepId: string, attempt: number): string {
  return AMBIGUOUS.has(previous.code) && !stoppedAttempts.has(previous)
    ? previous.idempotencyKey
    : keyOf(taskId, stepId, attempt);
}

/** One attempt of a step: breaker, persisted start, the call, acceptance; says whether to retry. */
async function attemptStep(
  step: PlanStep,
  a: {
    args: Record<string, unknown>;
    prompt: string | undefined;
    attempt: number;
    key: string;
    retry: RetrySettings;
    breaker: CircuitBreaker;
    /** The first attempt after a restart, re-sent under the interrupted attempt's key. */
    resumed: boolean;
  },
  o: RunOptions,
  outputs: Record<string, unknown>,
  attempts: StepAttempt[],
): Promise<AttemptOutcome> {
  const { args, prompt, attempt, key, retry, breaker } = a;
  // The same key as the attempt before: it failed ambiguously, and what it started may be going on.
  const earlier = attempts.at(-1);
  const resumes =
    earlier?.idempotencyKey === key
      ? { childTask: earlier.childTask }
      : a.resumed
        ? { childTask: undefined, requestSent: o.state.interruptedSent?.includes(step.id) ?? false }
        : undefined;
  const started = new Date();
  const record: StepAttempt = {
    attempt,
    startedAt: started,
    finishedAt: undefined,
    duration: undefined,
    code: 'OK',
    error: '',
    traceId: trace.getActiveSpan()?.spanContext().traceId ?? '',
    childTask: undefined,
    idempotencyKey: key,
    model: '',
    usage: undefined,
  };
  attempts.push(record);
  const close = (code: string, error = '') =>
    Object.assign(record, { finishedAt: new Date(), duration: duration(Date.now() - started.getTime()), code, error });
  const stepTimeoutMs = ms(step.timeout) ?? o.stepTimeoutMs ?? 30_000;
  const timeoutMs = o.deadline === undefined ? stepTimeoutMs : Math.min(stepTimeoutMs, o.deadline - started.getTime());
  const timeout = AbortSignal.timeout(Math.max(0, timeoutMs));
  let admitted = false;
  let dispatched = false;
  let called = false;
  let stopped = false;
  try {
    if (timeoutMs <= 0)
      throw new MeshError(Code.DEADLINE_EXCEEDED, `the task's deadline passed before step ${step.id} could start`);
    // A sibling failed meanwhile: no call for work nobody can use.
    if (o.stop.aborted) throw stoppedBySibling(o);
    breaker.admit();
    admitted = true;
    await o.hooks.stepStarted(step.id, attempt, key);
    dispatched = true;
    const result = await o.runner.run({
      taskId: o.taskId,
      step,
      args,
      prompt,
      attempt,
      idempotencyKey: record.idempotencyKey,
      signal: AbortSignal.any([o.signal, o.stop, timeout]),
      deadline: started.getTime() + timeoutMs,
      childTaskCreated: (ref) => void (record.childTask = ref),
      childTaskStopped: () => void (stopped = true),
      sending: () => o.hooks.requestSending?.(step.id, attempt, key) ?? Promise.resolve(),
      resumes,
    });
    called = true;
    breaker.succeeded();
    Object.assign(record, {
      childTask: result.childTask ?? record.childTask,
      model: result.model ?? '',
      usage: result.usage,
    });
    close('OK');
    accept(step, result.output, o, outputs);
    return {
      end: {
        ok: true,
        output: result.output,
        choice: result.choice ? { stepId: step.id, ...result.choice } : undefined,
      },
    };
  } catch (err) {
    if (o.signal.aborted) {
      // Canceled: no verdict on the collaborator, and a half-open trial is given back.
      if (admitted && !called) breaker.release();
      o.signal.throwIfAborted();
    }
    if (isAuthorityRequired(err)) {
      // Nothing was called: the attempt stays open (persisted as started) and is re-sent under its key later.
      if (admitted) breaker.release();
      attempts.pop();
      return { end: { ok: false, skipped: false, paused: true, reason: (err as MeshError).message } };
    }
    // The call carries the step's deadline: whether its own timer or ours fires first, it is the same
    // deadline passing (a loaded machine decides the order), and the user hears the same reason.
    const deadlinePassed =
      timeout.aborted ||
      (dispatched &&
        MeshError.from(err).code === Code.DEADLINE_EXCEEDED &&
        Date.now() >= started.getTime() + timeoutMs - DEADLINE_SLACK_MS);
    const outOfBudget = deadlinePassed && timeoutMs < stepTimeoutMs;
    // An unknown outcome stays what it is: "stopped" would hide that the collaborator may have acted.
    const error =
      o.stop.aborted && !called && !isOutcomeUnknown(err)
        ? stoppedBySibling(o)
        : deadlinePassed && !called && !isOutcomeUnknown(err)
          ? new MeshError(
              Code.DEADLINE_EXCEEDED,
              outOfBudget ? `step ${step.id} ran out of the task's time` : `step ${step.id} timed out`,
            )
          : MeshError.from(err);
    if (called) {
      // The call succeeded; its output failed acceptance: not a collaborator failure, not retried.
      return { end: { ok: false, skipped: false, code: error.code, reason: error.message } };
    }
    // Only the collaborator's own answer says how it is: not our own store failing before the call,
    // not a sibling's failure, not the task running out of its time. Signs of an unhealthy
    // collaborator open its circuit; a refusal of this request shows it is up.
    if (admitted) {
      if (!dispatched || o.stop.aborted || outOfBudget) breaker.release();
      else if (showsUnhealthy(error)) breaker.failed();
      else breaker.succeeded();
    }
    close(codeName(error.code), error.message);
    if (stopped) stoppedAttempts.add(record);
    // An open circuit fails the step at once: retrying into it would only wait.
    const outOfTime = o.deadline !== undefined && Date.now() >= o.deadline;
    if (!admitted || o.stop.aborted || outOfTime || !worthRetrying(error) || attempt >= retry.maxAttempts) {
      return {
        end: {
          ok: false,
          skipped: false,
          code: error.code,
          // Attempts are named only when there were several: a failure that was not retried is just the failure.
          reason: attempt > 1 ? `${error.message} (after ${attempt} attempts)` : error.message,
        },
      };
    }
    return { retry: true };
  }
}
