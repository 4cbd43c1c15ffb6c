import { StepState, TaskPlan, type PlanStep } from '../../gen/agentmesh/v1/plan.js';
import type { StepExecution, Substitution } from '../../gen/agentmesh/v1/explain.js';
import { Code, MeshError } from '../core/index.js';
import {
  authorityRequired,
  execute,
  outcomeUnknown,
  type ExecutionState,
  type ExecutorOptions,
  type StepCall,
  type StepRunner,
} from './executor.js';
import { CircuitBreaker } from './retry.js';

const tool = (
  id: string,
  over: Partial<Parameters<typeof TaskPlan.fromPartial>[0]['steps'] extends (infer S)[] | undefined ? S : never> = {},
) => ({
  id,
  description: id,
  target: { $case: 'tool' as const, tool: { service: 'bank/tools', tool: id } },
  arguments: {},
  dependsOn: [],
  ...over,
});

function harness(behaviour: (call: StepCall, n: number) => Promise<unknown>) {
  const calls: StepCall[] = [];
  const finished: StepExecution[] = [];
  const substitutions: Substitution[] = [];
  const started: string[] = [];
  let active = 0;
  let maxActive = 0;
  const runner: StepRunner = {
    collaborator: (step: PlanStep) => `tool:${step.target?.$case === 'tool' ? step.target.tool.tool : '?'}`,
    async run(call) {
      calls.push(call);
      active++;
      maxActive = Math.max(maxActive, active);
      try {
        return { output: await behaviour(call, calls.filter((c) => c.step.id === call.step.id).length) };
      } finally {
        active--;
      }
    },
  };
  const hooks = {
    stepStarted: async (id: string, attempt: number) => void started.push(`${id}#${attempt}`),
    stepFinished: async (e: StepExecution) => void finished.push(e),
    substituted: async (log: Substitution[]) => void substitutions.push(...log),
  };
  const state = (over: Partial<ExecutionState> = {}): ExecutionState => ({
    outputs: {},
    skipped: [],
    interrupted: {},
    answers: {},
    ...over,
  });
  const run = (
    plan: TaskPlan,
    s = state(),
    signal = new AbortController().signal,
    breakers = new Map<string, CircuitBreaker>(),
    extra: Partial<ExecutorOptions> = {},
  ) =>
    execute(plan, {
      taskId: 't1',
      input: { amount: 500 },
      runner,
      hooks,
      signal,
      breakers,
      state: s,
      retry: { maxAttempts: 3, initialBackoffMs: 5, maxBackoffMs: 20 },
      ...extra,
    });
  return {
    run,
    calls,
    finished,
    substitutions,
    started,
    state,
    get maxActive() {
      return maxActive;
    },
  };
}

const plan = (steps: object[]) => TaskPlan.fromPartial({ planId: 'p', taskId: 't1', steps: steps as never });

describe('executor', () => {
  test('independent steps run concurrently; dependants get earlier outputs substituted', async () => {
    // a and b each finish only once both have started: run one after the other, they never would.
    let started = 0;
    let bothStarted!: () => void;
    const both = new Promise<void>((r) => (bothStarted = r));
    const h = harness(async (call) => {
      if (call.step.id !== 'sum') {
        if (++started === 2) bothStarted();
        await both;
      }
      return call.step.id === 'sum'
        ? { total: (call.args.a as number) + (call.args.b as number) }
        : { value: call.step.id === 'a' ? 2 : 3 };
    });
    const outcome = await h.run(
      plan([
        tool('a'),
        tool('b'),
        tool('sum', {
          dependsOn: ['a', 'b'],
          arguments: { a: '${steps.a.output.value}', b: '${steps.b.output.value}' },
        }),
      ]),
    );
    expect(outcome).toEqual({ status: 'completed', outputs: { a: { value: 2 }, b: { value: 3 }, sum: { total: 5 } } });
    expect(h.maxActive).toBe(2);
    expect(h.calls.find((c) => c.step.id === 'sum')?.args).toEqual({ a: 2, b: 3 });
    expect(h.substitutions.map((s) => [s.path, s.value])).toEqual([
      ['/a', 2],
      ['/b', 3],
    ]);
    expect(h.calls.map((c) => c.idempotencyKey)).toContain('t1:sum:1');
  });

  test('a retryable failure is retried, then succeeds; attempts are recorded', async () => {
    const h = harness(async (_c, n) => {
      if (n < 3) throw new MeshError(Code.UNAVAILABLE, 'flaky');
      return { ok: true };
    });
    expect((await h.run(plan([tool('x')]))).status).toBe('completed');
    expect(h.finished[0]!.attempts.map((a) => a.code)).toEqual(['UNAVAILABLE', 'UNAVAILABLE', 'OK']);
    expect(h.started).toEqual(['x#1', 'x#2', 'x#3']);
  });

  test('a retry after an ambiguous failure reuses the key (the call may have acted); after a reported refusal it takes its own', async () => {
    const codes = [Code.UNAVAILABLE, Code.RESOURCE_EXHAUSTED];
    const h = harness(async (_c, n) => {
      if (n <= codes.length) throw new MeshError(codes[n - 1]!, 'not now');
      return { ok: true };
    });
    expect((await h.run(plan([tool('x')]))).status).toBe('completed');
    expect(h.calls.map((c) => c.idempotencyKey)).toEqual(['t1:x:1', 't1:x:1', 't1:x:3']);
    expect(h.finished[0]!.attempts.map((a) => [a.attempt, a.idempotencyKey])).toEqual([
      [1, 't1:x:1'],
      [2, 't1:x:1'],
      [3, 't1:x:3'],
    ]);
  });

  test('a non-retryable failure fails the step at once with the reason, and no talk of attempts', async () => {
    const h = harness(async () => {
      throw new MeshError(Code.INVALID_ARGUMENT, 'arguments/amount: required');
    });
    expect(await h.run(plan([tool('x'), tool('y', { dependsOn: ['x'] })]))).toMatchObject({
      status: 'failed',
      stepId: 'x',
      code: Code.INVALID_ARGUMENT,
      reason: 'arguments/amount: required',
    });
    expect(h.calls).toHaveLength(1);
    expect(h.finished[0]).toMatchObject({ reason: 'arguments/amount: required' });
  });

  test('a step that fails after retries says how many attempts it took', async () => {
    const h = harness(async () => {
      throw new MeshError(Code.UNAVAILABLE, 'down');
    });
    expect(await h.run(plan([tool('x')]))).toMatchObject({ status: 'failed', reason: 'down (after 3 attempts)' });
    expect(h.calls).toHaveLength(3);
  });

  test('a permanent refusal (pushback -1) is attempted once and leaves the circuit closed; a transient one is retried', async () => {
    const breakers = new Map([['tool:x', new CircuitBreaker('tool:x', 2, 60_000)]]);
    const tooBig = harness(async () => {
      throw new MeshError(Code.RESOURCE_EXHAUSTED, 'message: 9000 bytes is over the 4096-byte limit', {
        permanent: true,
      });
    });
    for (let i = 0; i < 3; i++) {
      expect(await tooBig.run(plan([tool('x')]), tooBig.state(), undefined, breakers)).toMatchObject({
        status: 'failed',
        code: Code.RESOURCE_EXHAUSTED,
        reason: 'message: 9000 bytes is over the 4096-byte limit',
      });
    }
    expect(tooBig.calls).toHaveLength(3);
    expect(breakers.get('tool:x')!.state).toBe('closed');
    const busy = harness(async (_c, n) => {
      if (n === 1) throw new MeshError(Code.RESOURCE_EXHAUSTED, 'quota: try later');
      return { ok: true };
    });
    expect((await busy.run(plan([tool('x')]), busy.state(), undefined, breakers)).status).toBe('completed');
    expect(busy.finished[0]!.attempts.map((a) => a.code)).toEqual(['RESOURCE_EXHAUSTED', 'OK']);
  });

  test('the circuit opens after repeated failures and later steps to the same collaborator fail fast', async () => {
    const breakers = new Map([['tool:x', new CircuitBreaker('tool:x', 2, 60_000)]]);
    const h = harness(async () => {
      throw new MeshError(Code.UNAVAILABLE, 'down');
    });
    await h.run(plan([tool('x', { retry: { maxAttempts: 2 } })]), h.state(), undefined, breakers);
    const before = h.calls.length;
    const outcome = await h.run(plan([tool('x')]), h.state(), undefined, breakers);
    expect(outcome).toMatchObject({
      status: 'failed',
      code: Code.UNAVAILABLE,
      reason: expect.stringContaining('circuit open'),
    });
    expect(h.calls.length).toBe(before);
  });

  test('an output failing acceptance fails the step without retrying', async () => {
    const h = harness(async () => ({ score: 1200 }));
    const outcome = await h.run(
      plan([
        tool('x', {
          acceptance: { outputSchema: { type: 'object', required: ['score'] }, cel: ['output.score <= 999'] },
        }),
      ]),
    );
    expect(outcome).toMatchObject({
      status: 'failed',
      code: Code.FAILED_PRECONDITION,
      reason: 'acceptance criterion not met: output.score <= 999',
    });
    expect(h.calls).toHaveLength(1);
  });

  test('run_if false skips a step; a human step pauses the run until answered', async () => {
    const h = harness(async () => ({ ok: true }));
    const p = plan([
      tool('small', { runIf: 'input.amount < 100' }),
      {
        id: 'approve',
        description: 'approval',
        target: { $case: 'human', human: { prompt: 'approve?', choices: ['yes', 'no'] } },
        dependsOn: [],
        arguments: {},
      },
      tool('book', { dependsOn: ['approve'] }),
    ]);
    const first = await h.run(p);
    expect(first).toMatchObject({ status: 'input_required', step: { id: 'approve' } });
    expect(h.finished.find((f) => f.stepId === 'small')?.state).toBe(StepState.STEP_STATE_SKIPPED);
    expect(h.calls).toHaveLength(0);
    const second = await h.run(p, h.state({ skipped: ['small'], answers: { approve: 'yes' } }));
    expect(second).toMatchObject({ status: 'completed', outputs: { approve: 'yes', book: { ok: true } } });
  });

  test('a skipped step has the output null, so later steps may refer to an optional step; prompts are substituted and logged', async () => {
    const h = harness(async (call) => ({ got: call.args.approval, asked: call.prompt }));
    const p = plan([
      tool('check'),
      {
        id: 'approve',
        description: 'approval',
        target: { $case: 'human', human: { prompt: 'Approve ${input.amount}?' } },
        runIf: 'input.amount > 1000.0',
        dependsOn: ['check'],
        arguments: {},
      },
      {
        id: 'decide',
        description: 'decide',
        target: { $case: 'llm', llm: { modelAlias: 'small', prompt: 'Decide on ${input.amount}' } },
        arguments: { approval: '${steps.approve.output}' },
        dependsOn: ['approve'],
      },
    ]);
    expect(await h.run(p)).toMatchObject({
      status: 'completed',
      outputs: { approve: null, decide: { got: null, asked: 'Decide on 500' } },
    });
    expect(h.substitutions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ stepId: 'decide', path: '#prompt', source: 'input.amount', value: 500 }),
      ]),
    );
    const big = harness(async () => ({}));
    const paused = await big.run(
      plan([
        {
          id: 'approve',
          description: 'a',
          target: { $case: 'human', human: { prompt: 'Approve ${input.amount}?' } },
          dependsOn: [],
          arguments: {},
        },
      ]),
    );
    expect(paused).toMatchObject({ status: 'input_required', prompt: 'Approve 500?' });
  });

  test('resuming re-sends an interrupted attempt with the same idempotency key and skips finished steps', async () => {
    const h = harness(async () => ({ ok: true }));
    await h.run(
      plan([tool('a'), tool('b', { dependsOn: ['a'] })]),
      h.state({ outputs: { a: { ok: true } }, interrupted: { b: 2 } }),
    );
    expect(h.calls.map((c) => c.idempotencyKey)).toEqual(['t1:b:2']);
  });

  test('sending() is persisted by the hooks; a resumed attempt learns whether its request had gone out', async () => {
    const h = harness(async (call) => {
      await call.sending?.();
      return { resumes: call.resumes ?? null };
    });
    const sending: string[] = [];
    const hooks = {
      stepStarted: async () => undefined,
      stepFinished: async () => undefined,
      substituted: async () => undefined,
      requestSending: async (id: string, attempt: number, key: string) => void sending.push(`${id}#${attempt} ${key}`),
    };
    const p = plan([tool('a'), tool('b')]);
    const outcome = await h.run(
      p,
      h.state({ interrupted: { a: 2, b: 1 }, interruptedSent: ['a'] }),
      undefined,
      undefined,
      {
        hooks,
      },
    );
    expect(outcome).toEqual({
      status: 'completed',
      outputs: {
        a: { resumes: { childTask: undefined, requestSent: true } },
        b: { resumes: { childTask: undefined, requestSent: false } },
      },
    });
    expect(sending.sort()).toEqual(['a#2 t1:a:2', 'b#1 t1:b:1']);
  });

  test("a sibling's failure does not hide an unknown outcome: the stopped step keeps UNKNOWN and its reason", async () => {
    // 'bad' fails once 'pay' is in its call (an event, not a delay), so 'pay' is stopped mid-call.
    let payInCall!: () => void;
    const payStarted = new Promise<void>((resolve) => (payInCall = resolve));
    const h = harness((call) =>
      call.step.id === 'bad'
        ? payStarted.then(() => Promise.reject(new MeshError(Code.INVALID_ARGUMENT, 'no')))
        : new Promise((_r, reject) => {
            call.signal.addEventListener('abort', () =>
              reject(outcomeUnknown('outcome unknown: the call was sent and then stopped')),
            );
            payInCall();
          }),
    );
    const outcome = await h.run(plan([tool('pay'), tool('bad')]));
    expect(outcome).toMatchObject({ status: 'failed', stepId: 'bad' });
    const pay = h.finished.find((f) => f.stepId === 'pay')!;
    expect(pay.reason).toContain('outcome unknown');
    expect(pay.attempts.map((a) => a.code)).toEqual(['UNKNOWN']);
  });

  test('cancellation stops outstanding steps', async () => {
    const controller = new AbortController();
    let calling!: () => void;
    const called = new Promise<void>((r) => (calling = r));
    const h = harness(
      (call) =>
        new Promise((_r, reject) => {
          call.signal.addEventListener('abort', () => reject(call.signal.reason));
          calling();
        }),
    );
    const running = h.run(plan([tool('slow')]), h.state(), controller.signal);
    // Canceled while the step is outstanding, not before it started.
    await called;
    controller.abort(new MeshError(Code.CANCELLED, 'task canceled'));
    await expect(running).rejects.toMatchObject({ code: Code.CANCELLED });
  });

  test('a failed step stops its running siblings, which are recorded as stopped', async () => {
    // `bad` fails once `long` is running, whatever order the two are started in.
    let longRuns!: () => void;
    const longRunning = new Promise<void>((r) => (longRuns = r));
    const h = harness((call) =>
      call.step.id === 'bad'
        ? longRunning.then(() => Promise.reject(new MeshError(Code.INVALID_ARGUMENT, 'amount: negative')))
        : new Promise((_r, reject) => {
            call.signal.addEventListener('abort', () => reject(call.signal.reason));
            longRuns();
          }),
    );
    const outcome = await h.run(plan([tool('long'), tool('bad'), tool('after', { dependsOn: ['long'] })]));
    expect(outcome).toMatchObject({ status: 'failed', stepId: 'bad', code: Code.INVALID_ARGUMENT });
    const long = h.finished.find((f) => f.stepId === 'long')!;
    expect(long).toMatchObject({
      state: StepState.STEP_STATE_FAILED,
      reason: expect.stringContaining('stopped because step bad failed'),
    });
    expect(h.calls.map((c) => c.step.id).sort()).toEqual(['bad', 'long']);
  });

  test('while a person is asked, steps that do not need the answer still run', async () => {
    const h = harness(async () => ({ ok: true }));
    const p = plan([
      {
        id: 'approve',
        description: 'approval',
        target: { $case: 'human', human: { prompt: 'approve?' } },
        dependsOn: [],
        arguments: {},
      },
      tool('side'),
      tool('book', { dependsOn: ['approve'] }),
    ]);
    expect(await h.run(p)).toMatchObject({ status: 'input_required', step: { id: 'approve' } });
    expect(h.calls.map((c) => c.step.id)).toEqual(['side']);
  });

  test("a step that needs the caller's authority pauses the run, then is re-sent under the same key", async () => {
    let authority = false;
    const h = harness(async (call) => {
      if (call.step.id === 'ask' && !authority) throw authorityRequired('no current token of the caller');
      return { ok: call.step.id };
    });
    const p = plan([tool('fetch'), tool('ask', { dependsOn: ['fetch'] })]);
    expect(await h.run(p)).toEqual({
      status: 'auth_required',
      stepId: 'ask',
      reason: 'no current token of the caller',
    });
    expect(h.finished.map((f) => f.stepId)).toEqual(['fetch']);
    expect(h.started).toEqual(['fetch#1', 'ask#1']);
    authority = true;
    const resumed = await h.run(p, h.state({ outputs: { fetch: { ok: 'fetch' } }, interrupted: { ask: 1 } }));
    expect(resumed).toMatchObject({ status: 'completed', outputs: { ask: { ok: 'ask' } } });
    expect(h.calls.filter((c) => c.step.id === 'ask').map((c) => c.idempotencyKey)).toEqual(['t1:ask:1', 't1:ask:1']);
  });

  test("no attempt outlives the run's deadline: calls get it, and a step after it fails without a call", async () => {
    const h = harness(async () => ({ ok: true }));
    const deadline = Date.now() + 5_000;
    await h.run(plan([tool('a', { timeout: { seconds: 60, nanos: 0 } })]), h.state(), undefined, undefined, {
      deadline,
    });
    expect(h.calls[0]!.deadline).toBe(deadline);
    const late = harness(async () => ({ ok: true }));
    const outcome = await late.run(plan([tool('a')]), late.state(), undefined, undefined, { deadline: Date.now() - 1 });
    expect(outcome).toMatchObject({
      status: 'failed',
      code: Code.DEADLINE_EXCEEDED,
      reason: expect.stringContaining("the task's deadline passed"),
    });
    expect(late.calls).toHaveLength(0);
  });

  test("the call's own deadline firing before the executor's timer is the same deadline: one reason for the user", async () => {
    // The collaborator's client gives up at the deadline it was handed, synchronously past it, so the
    // executor's timer cannot have fired yet: the order a loaded machine produces.
    const h = harness(async (call) => {
      while (Date.now() < call.deadline!) {
        /* the call is in flight until its deadline */
      }
      throw new MeshError(Code.DEADLINE_EXCEEDED, 'Deadline exceeded after 0.2s,remote_addr=127.0.0.1:1');
    });
    const outcome = await h.run(
      plan([tool('hold', { timeout: { seconds: 60, nanos: 0 } })]),
      h.state(),
      undefined,
      undefined,
      {
        deadline: Date.now() + 200,
      },
    );
    expect(outcome).toMatchObject({
      status: 'failed',
      code: Code.DEADLINE_EXCEEDED,
      reason: "step hold ran out of the task's time",
    });
    expect(h.calls).toHaveLength(1);
  });

  test('refusals of the request do not open the circuit; failures of the collaborator do', async () => {
    const breakers = new Map([['tool:x', new CircuitBreaker('tool:x', 2, 60_000)]]);
    const refusing = harness(async () => {
      throw new MeshError(Code.PERMISSION_DENIED, 'not yours');
    });
    for (let i = 0; i < 3; i++) await refusing.run(plan([tool('x')]), refusing.state(), undefined, breakers);
    expect(refusing.calls).toHaveLength(3);
    expect(breakers.get('tool:x')!.state).toBe('closed');
  });

  test('a retry after the runner stopped what the attempt started (a canceled child task) takes a new key', async () => {
    const h = harness((call, n) =>
      n === 1
        ? new Promise((_r, reject) =>
            call.signal.addEventListener('abort', () => (call.childTaskStopped?.(), reject(call.signal.reason))),
          )
        : Promise.resolve({ ok: true }),
    );
    expect((await h.run(plan([tool('ask', { timeout: { seconds: 0, nanos: 50e6 } })]))).status).toBe('completed');
    expect(h.calls.map((c) => c.idempotencyKey)).toEqual(['t1:ask:1', 't1:ask:2']);
  });

  test('a task canceled during a half-open trial gives the trial back: the circuit is not left shut', async () => {
    const breakers = new Map([['tool:x', new CircuitBreaker('tool:x', 1, 0)]]);
    const down = harness(async () => {
      throw new MeshError(Code.UNAVAILABLE, 'down');
    });
    await down.run(plan([tool('x', { retry: { maxAttempts: 1 } })]), down.state(), undefined, breakers);
    expect(breakers.get('tool:x')!.state).toBe('half-open');
    const controller = new AbortController();
    let calling!: () => void;
    const called = new Promise<void>((r) => (calling = r));
    const hanging = harness(
      (call) =>
        new Promise((_r, reject) => {
          call.signal.addEventListener('abort', () => reject(call.signal.reason));
          calling();
        }),
    );
    const running = hanging.run(plan([tool('x')]), hanging.state(), controller.signal, breakers);
    // Canceled during the trial (the call is made), not before the breaker let it through.
    await called;
    controller.abort(new MeshError(Code.CANCELLED, 'task canceled'));
    await expect(running).rejects.toMatchObject({ code: Code.CANCELLED });
    const healthy = harness(async () => ({ ok: true }));
    expect((await healthy.run(plan([tool('x')]), healthy.state(), undefined, breakers)).status).toBe('completed');
  });
});
