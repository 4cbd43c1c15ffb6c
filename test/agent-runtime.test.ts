import { EventEmitter, once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentServiceService, type StreamTaskResponse } from '../gen/agentmesh/v1/agent_service.js';
import { AgentCard } from '../gen/agentmesh/v1/card.js';
import { StepState } from '../gen/agentmesh/v1/plan.js';
import { TaskState } from '../gen/agentmesh/v1/task.js';
import { ToolServiceService } from '../gen/agentmesh/v1/tool_service.js';
import { createClient, type MeshClient } from '../mesh/index.js';
import { agentService } from '../mesh/runtime/agent-service.js';
import { AgentRuntime } from '../mesh/runtime/agent-runtime.js';
import { inventoryFromCards, PlaybookPlanner, toolCardOf, toolService, type ToolSpec } from '../mesh/index.js';
import { StepRunners } from '../mesh/runtime/step-runners.js';
import { ToolStepRunner } from '../mesh/runtime/tool-step-runner.js';
import { parsePolicy } from '../mesh/security/policy.js';
import { securityInterceptor } from '../mesh/security/security-interceptor.js';
import { TokenVerifier } from '../mesh/security/token-verifier.js';
import { Code, createServer, MeshError, type MeshServer } from '../mesh/index.js';
import { loadStateConfig, openStore, type Store } from '../mesh/index.js';
import { AuditLog, verifyAuditFile, type AuditEvent, type AuditRecord } from '../mesh/telemetry/audit.js';
import { captureLogger } from './helpers/log-capture.js';
import { TRUST_DOMAIN } from './helpers/pki.js';
import { createSecureFixture, idOf, type SecureFixture } from './helpers/secure-mesh.js';

const TOOLS = 'banking/ledger';
const AGENT = 'lending/advisor';
let posted = 0;
let flakyCalls = 0;
let brokenCalls = 0;
let slowRelease: () => void = () => undefined;
let refusedCalls = 0;
// What the tools' handlers went through, for tests to wait on: "slow" (entered), "held:<label>" (a "hold" call
// entered), "aborted:<label>" (its signal aborted: the caller canceled, or its deadline passed).
const calls = new EventEmitter();

const tools: ToolSpec[] = [
  {
    name: 'get-customer',
    description: 'Reads a customer',
    argumentsSchema: { type: 'object', required: ['customer'], properties: { customer: { type: 'string' } } },
    idempotent: true,
    handler: async (args) => ({ customer: args.customer, income: 5200 }),
  },
  {
    name: 'post-entry',
    description: 'Books the loan',
    argumentsSchema: { type: 'object', required: ['amount'], properties: { amount: { type: 'number' } } },
    handler: async (args) => ({ entry: ++posted, amount: args.amount }),
  },
  {
    name: 'flaky',
    description: 'Fails once, then answers',
    argumentsSchema: { type: 'object' },
    idempotent: true,
    handler: async () => {
      if (++flakyCalls === 1) throw new MeshError(Code.UNAVAILABLE, 'ledger busy');
      return { ok: true };
    },
  },
  {
    name: 'broken',
    description: 'Always unavailable',
    argumentsSchema: { type: 'object' },
    idempotent: true,
    handler: async () => {
      brokenCalls++;
      throw new MeshError(Code.UNAVAILABLE, 'ledger down');
    },
  },
  {
    name: 'slow',
    description: 'Waits until released',
    argumentsSchema: { type: 'object' },
    idempotent: true,
    handler: (_args, ctx) =>
      new Promise((resolve, reject) => {
        slowRelease = () => resolve({ done: true });
        ctx.call.signal.addEventListener('abort', () => reject(ctx.call.signal.reason));
        calls.emit('slow');
      }),
  },
  {
    name: 'refuse',
    description: 'Refuses every request as malformed',
    argumentsSchema: { type: 'object' },
    idempotent: true,
    handler: async () => {
      refusedCalls++;
      throw new MeshError(Code.INVALID_ARGUMENT, 'account: not a ledger account');
    },
  },
  {
    name: 'hold',
    description: 'Holds the call until it is aborted',
    argumentsSchema: { type: 'object', properties: { label: { type: 'string' } } },
    idempotent: true,
    handler: (args, ctx) =>
      new Promise((_resolve, reject) => {
        ctx.call.signal.addEventListener('abort', () => {
          calls.emit(`aborted:${String(args.label)}`);
          reject(ctx.call.signal.reason);
        });
        calls.emit(`held:${String(args.label)}`);
      }),
  },
];

const card = AgentCard.fromPartial({
  name: AGENT,
  version: '1.0.0',
  purpose: 'Advise on and book small loans',
  owner: 'team-lending',
  identity: idOf('lending', 'advisor'),
  skills: [
    {
      id: 'advise',
      description: 'Advise and book a loan',
      inputSchema: {
        type: 'object',
        required: ['customer', 'amount'],
        properties: { customer: { type: 'string' }, amount: { type: 'number' } },
      },
    },
    { id: 'wait', description: 'Waits on the slow tool', inputSchema: { type: 'object' } },
    { id: 'flaky', description: 'Calls the flaky tool', inputSchema: { type: 'object' } },
    { id: 'broken', description: 'Calls the broken tool', inputSchema: { type: 'object' } },
    { id: 'picky', description: 'Wants a high income', inputSchema: { type: 'object', required: ['customer'] } },
    { id: 'refuse', description: 'Calls the refusing tool', inputSchema: { type: 'object' } },
    {
      id: 'hold-then-book',
      description: 'Holds, then books',
      inputSchema: { type: 'object', properties: { label: { type: 'string' } } },
    },
    { id: 'unplannable', description: 'Its playbook names a tool nobody offers', inputSchema: { type: 'object' } },
  ],
});

/** A held audit record: `reached` when the runtime hands it over, appended to the trail only once released. */
interface HeldRecord {
  reached: Promise<AuditEvent>;
  release(): void;
}

/** The agent's audit sink: the real trail, except for a record a test holds back. */
function holdingAudit(trail: () => AuditLog) {
  let held:
    { matches: (e: AuditEvent) => boolean; reach: (e: AuditEvent) => void; released: Promise<void> } | undefined;
  return {
    async append(event: AuditEvent): Promise<AuditRecord> {
      const h = held;
      if (h?.matches(event)) {
        held = undefined;
        h.reach(event);
        await h.released;
      }
      return trail().append(event);
    },
    /** Holds the next record that matches. */
    hold(matches: (e: AuditEvent) => boolean): HeldRecord {
      let release = (): void => undefined;
      let reach = (_e: AuditEvent): void => undefined;
      const released = new Promise<void>((r) => (release = r));
      const reached = new Promise<AuditEvent>((r) => (reach = r));
      held = { matches, reach, released };
      return { reached, release };
    },
  };
}

const ledger = (tool: string) => ({ $case: 'tool' as const, tool: { service: TOOLS, tool } });

const playbooks = {
  advise: {
    goal: 'Loan for ${input.customer}',
    steps: [
      {
        id: 'fetch',
        description: 'read the customer',
        target: { $case: 'tool' as const, tool: { service: TOOLS, tool: 'get-customer' } },
        arguments: { customer: '${input.customer}' },
      },
      {
        id: 'approve',
        description: 'large loans need a person',
        target: { $case: 'human' as const, human: { prompt: 'Approve this loan?', choices: ['yes', 'no'] } },
        runIf: 'input.amount > 10000.0',
      },
      {
        id: 'book',
        description: 'book the loan',
        target: { $case: 'tool' as const, tool: { service: TOOLS, tool: 'post-entry' } },
        arguments: { amount: '${input.amount}' },
        dependsOn: ['fetch', 'approve'],
        acceptance: { cel: ['output.amount == input.amount'] },
      },
    ],
    resultStepId: 'book',
  },
  wait: {
    steps: [
      {
        id: 'slow',
        description: 'waits',
        target: { $case: 'tool' as const, tool: { service: TOOLS, tool: 'slow' } },
        arguments: {},
      },
    ],
  },
  flaky: {
    steps: [
      {
        id: 'try',
        description: 'retried',
        target: { $case: 'tool' as const, tool: { service: TOOLS, tool: 'flaky' } },
        arguments: {},
        retry: { maxAttempts: 3, initialBackoff: { seconds: 0, nanos: 20e6 } },
      },
    ],
  },
  broken: {
    steps: [
      {
        id: 'try',
        description: 'fails',
        target: { $case: 'tool' as const, tool: { service: TOOLS, tool: 'broken' } },
        arguments: {},
        retry: { maxAttempts: 5, initialBackoff: { seconds: 0, nanos: 10e6 }, maxBackoff: { seconds: 0, nanos: 20e6 } },
      },
    ],
  },
  refuse: { steps: [{ id: 'try', description: 'refused', target: ledger('refuse'), arguments: {} }] },
  'hold-then-book': {
    steps: [
      {
        id: 'hold',
        description: 'held until canceled or out of time',
        target: ledger('hold'),
        arguments: { label: '${input.label}' },
      },
      {
        id: 'book',
        description: 'never reached',
        target: ledger('post-entry'),
        arguments: { amount: 1 },
        dependsOn: ['hold'],
      },
    ],
  },
  unplannable: { steps: [{ id: 'x', description: 'no such tool', target: ledger('teleport'), arguments: {} }] },
  picky: {
    steps: [
      {
        id: 'fetch',
        description: 'read',
        target: { $case: 'tool' as const, tool: { service: TOOLS, tool: 'get-customer' } },
        arguments: { customer: '${input.customer}' },
        acceptance: { cel: ['output.income > 9000.0'] },
      },
    ],
  },
};

describe('an agent built with the runtime: plans, executes, asks a person, explains', () => {
  let fx: SecureFixture;
  let dir: string;
  let toolStore: Store;
  let agentStore: Store;
  let toolServer: MeshServer;
  let agentServer: MeshServer;
  let client: MeshClient<typeof AgentServiceService>;
  let stranger: MeshClient<typeof AgentServiceService>;
  let audit: AuditLog;
  const auditSink = holdingAudit(() => audit);
  let runtime: AgentRuntime;

  beforeAll(async () => {
    fx = await createSecureFixture([
      { client_id: 'demo/caller', scopes: ['task.read', 'task.write'], audiences: [AGENT] },
      { client_id: 'demo/stranger', scopes: ['task.read', 'task.write'], audiences: [AGENT] },
      { client_id: AGENT, scopes: ['tools.invoke'], audiences: [TOOLS] },
    ]);
    dir = mkdtempSync(join(tmpdir(), 'agent-'));
    const log = captureLogger('agent-test').log;
    const verifier = (audience: string) =>
      new TokenVerifier({ issuer: fx.auth.issuer, audience, jwksUrl: fx.auth.jwksUrl, ca: fx.pki.ca.certPem });

    toolStore = await openStore({ service: TOOLS, config: loadStateConfig({ AGENTMESH_DATA_DIR: dir }) });
    const toolCard = toolCardOf(
      { name: TOOLS, version: '1.0.0', purpose: 'Ledger', owner: 'team-ledger' },
      tools,
      idOf('banking', 'ledger'),
    );
    const toolTransport = await fx.transportFor('banking', 'ledger');
    toolServer = createServer({ logger: log })
      .use(
        securityInterceptor({
          transport: toolTransport,
          verifier: verifier(TOOLS),
          policy: parsePolicy(
            {
              service: TOOLS,
              rules: [
                {
                  methods: ['*'],
                  callers: ['spiffe://{trust_domain}/ns/lending/sa/advisor'],
                  scopes: ['tools.invoke'],
                },
              ],
            },
            TRUST_DOMAIN,
          ),
          log,
        }),
      )
      .add(ToolServiceService, toolService(toolCard, tools, { store: toolStore, service: TOOLS }));
    const toolAddress = `127.0.0.1:${await toolServer.listen('127.0.0.1:0', toolTransport.serverCredentials())}`;

    agentStore = await openStore({ service: AGENT, config: loadStateConfig({ AGENTMESH_DATA_DIR: dir }) });
    const agentTransport = await fx.transportFor('lending', 'advisor');
    const toolClient = createClient(ToolServiceService, toolAddress, {
      credentials: agentTransport.channelCredentials(idOf('banking', 'ledger')),
      metadataHooks: [fx.tokenClient(AGENT).metadataHook(TOOLS, ['tools.invoke'])],
    });
    audit = new AuditLog(join(dir, 'audit.jsonl'));
    runtime = new AgentRuntime({
      card,
      planner: new PlaybookPlanner(playbooks),
      store: agentStore,
      runner: new StepRunners({
        tool: new ToolStepRunner(AGENT, async (name) => ({
          client: toolClient,
          choice: {
            name,
            version: '1.0.0',
            address: toolAddress,
            reasons: ['the only tool service of this test'],
            score: 1,
            alternatives: [],
          },
        })),
      }),
      inventory: async () => inventoryFromCards([], [toolCard]),
      log,
      maxInputBytes: 4_096,
      audit: auditSink,
    });
    agentServer = createServer({ logger: log })
      .use(
        securityInterceptor({
          transport: agentTransport,
          verifier: verifier(AGENT),
          policy: parsePolicy(
            {
              service: AGENT,
              rules: [
                {
                  methods: ['agentmesh.v1.AgentService/*'],
                  callers: ['spiffe://{trust_domain}/ns/demo/sa/*'],
                  scopes: ['task.write'],
                },
              ],
            },
            TRUST_DOMAIN,
          ),
          log,
        }),
      )
      .add(AgentServiceService, agentService(card, runtime, agentStore));
    const agentAddress = `127.0.0.1:${await agentServer.listen('127.0.0.1:0', agentTransport.serverCredentials())}`;
    const as = async (who: string) =>
      createClient(AgentServiceService, agentAddress, {
        // Far beyond what any call here waits for, even on a loaded machine: a task's own timeout is what is tested.
        defaultDeadlineMs: 60_000,
        credentials: (await fx.transportFor('demo', who)).channelCredentials(idOf('lending', 'advisor')),
        metadataHooks: [fx.tokenClient(`demo/${who}`).metadataHook(AGENT, ['task.write'])],
      });
    client = await as('caller');
    stranger = await as('stranger');
  });

  afterAll(async () => {
    client.close();
    stranger.close();
    await agentServer.shutdown({ graceMs: 500 });
    await toolServer.shutdown({ graceMs: 500 });
    await agentStore.close();
    await toolStore.close();
    await audit.close();
    rmSync(dir, { recursive: true, force: true });
    await fx.close();
  });

  const dataMessage = (id: string, input: unknown) => ({
    messageId: id,
    contextId: '',
    taskId: '',
    role: 1,
    parts: [{ content: { $case: 'data' as const, data: input }, metadata: undefined, filename: '', mediaType: '' }],
    metadata: undefined,
    referenceTaskIds: [],
  });
  const send = (
    requestId: string,
    input: Record<string, unknown>,
    skillId = 'advise',
    blocking = true,
    timeoutMs?: number,
  ) =>
    client.sendTask({
      requestId,
      skillId,
      message: dataMessage(requestId, input),
      configuration: {
        blocking,
        historyLength: 0,
        timeout:
          timeoutMs === undefined
            ? undefined
            : { seconds: Math.floor(timeoutMs / 1000), nanos: (timeoutMs % 1000) * 1e6 },
      },
    });
  const auditOf = (taskId: string) =>
    readFileSync(join(dir, 'audit.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as AuditRecord)
      .filter((r) => r.task_id === taskId);
  const statusText = (
    task: { status?: { message?: { parts: { content?: { $case: string; text?: string } }[] } } } | undefined,
  ) => task?.status?.message?.parts.map((p) => (p.content?.$case === 'text' ? p.content.text : '')).join(' ') ?? '';

  test('a small loan completes without a person, and the explanation shows plan, substitutions and execution', async () => {
    const { task } = await send('r-small', { customer: 'C-1', amount: 5000 });
    expect(task?.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    const result = task!.artifacts[0]!.parts[0]!.content;
    expect(result?.$case === 'data' && result.data).toMatchObject({ amount: 5000 });
    const { explanation } = await client.explainTask({ taskId: task!.id, maxDepth: 0 });
    expect(explanation?.plan?.steps.map((s) => s.id)).toEqual(['fetch', 'approve', 'book']);
    expect(explanation?.planning?.playbookId).toBe('advise');
    expect(explanation?.execution.map((e) => [e.stepId, e.state])).toEqual(
      expect.arrayContaining([
        ['fetch', StepState.STEP_STATE_SUCCEEDED],
        ['approve', StepState.STEP_STATE_SKIPPED],
        ['book', StepState.STEP_STATE_SUCCEEDED],
      ]),
    );
    expect(explanation?.substitutions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ stepId: 'book', path: '/amount', source: 'input.amount', value: 5000 }),
      ]),
    );
    const book = explanation!.execution.find((e) => e.stepId === 'book')!;
    expect(book.attempts[0]!.idempotencyKey).toBe(`${task!.id}:book:1`);
  });

  test('a large loan stops for approval; the answer resumes it to completion; events arrive in order', async () => {
    const { task } = await send('r-large', { customer: 'C-2', amount: 50000 });
    expect(task?.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    expect(task?.status?.inputRequest).toMatchObject({
      stepId: 'approve',
      prompt: 'Approve this loan?',
      choices: ['yes', 'no'],
    });
    await expect(
      client.provideInput({
        taskId: task!.id,
        stepId: 'approve',
        message: {
          messageId: 'a',
          contextId: '',
          taskId: '',
          role: 1,
          parts: [{ content: { $case: 'text', text: 'maybe' }, metadata: undefined, filename: '', mediaType: '' }],
          metadata: undefined,
          referenceTaskIds: [],
        },
        expectedVersion: 0,
      }),
    ).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    await client.provideInput({
      taskId: task!.id,
      stepId: 'approve',
      message: {
        messageId: 'a',
        contextId: '',
        taskId: '',
        role: 1,
        parts: [{ content: { $case: 'text', text: 'yes' }, metadata: undefined, filename: '', mediaType: '' }],
        metadata: undefined,
        referenceTaskIds: [],
      },
      expectedVersion: 0,
    });
    const events: StreamTaskResponse[] = [];
    for await (const e of client.subscribeTask({ taskId: task!.id, afterSequence: 0 }, { deadlineMs: 60_000 }))
      events.push(e);
    const sequences = events.slice(1).map((e) => e.event!.sequence);
    expect([...sequences].sort((a, b) => a - b)).toEqual(sequences);
    const kinds = events.map((e) => e.event!.event?.$case);
    expect(kinds[0]).toBe('task');
    expect(kinds).toEqual(expect.arrayContaining(['planCreated', 'stepStarted', 'stepFinished', 'artifactUpdate']));
    const last = events.at(-1)!.event!.event;
    expect(last?.$case === 'statusUpdate' && last.statusUpdate.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
  });

  test('the same request_id returns the same task and acts once', async () => {
    const before = posted;
    const [a, b] = await Promise.all([
      send('r-dup', { customer: 'C-3', amount: 10 }),
      send('r-dup', { customer: 'C-3', amount: 10 }),
    ]);
    expect(a.task?.id).toBe(b.task?.id);
    const again = await send('r-dup', { customer: 'C-3', amount: 10 });
    expect(again.task?.id).toBe(a.task?.id);
    expect(posted).toBe(before + 1);
  });

  test.each([
    ['an unknown skill', { customer: 'C', amount: 1 }, 'nope', Code.INVALID_ARGUMENT, 'unknown skill nope'],
    ['input failing the skill schema', { customer: 'C' }, 'advise', Code.INVALID_ARGUMENT, 'input/amount: required'],
    ['oversize input', { customer: 'x'.repeat(10_000), amount: 1 }, 'advise', Code.RESOURCE_EXHAUSTED, 'byte limit'],
  ])('%s is refused and leaves no task behind', async (_n, input, skill, code, message) => {
    const before = (await agentStore.tasks.list({})).length;
    await expect(send(`bad-${skill}-${Object.keys(input).length}`, input, skill)).rejects.toMatchObject({
      code,
      message: expect.stringContaining(message),
    });
    expect((await agentStore.tasks.list({})).length).toBe(before);
  });

  test('cancel stops a running task; another subject cannot see the task', async () => {
    const entered = once(calls, 'slow');
    const { task } = await send('r-cancel', {}, 'wait', false);
    await expect(stranger.getTask({ taskId: task!.id, historyLength: 0 })).rejects.toMatchObject({
      code: Code.NOT_FOUND,
    });
    await entered;
    const { task: canceled } = await client.cancelTask({ taskId: task!.id, reason: 'changed my mind' });
    expect(canceled?.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    slowRelease();
    const { task: later } = await client.getTask({ taskId: task!.id, historyLength: 0 });
    expect(later?.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
  });

  test('a retryable failure is retried over the wire, then succeeds; both attempts are recorded', async () => {
    const { task } = await send('r-flaky', {}, 'flaky');
    expect(task?.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    const { explanation } = await client.explainTask({ taskId: task!.id, maxDepth: 0 });
    expect(explanation!.execution[0]!.attempts.map((a) => a.code)).toEqual(['UNAVAILABLE', 'OK']);
    expect(flakyCalls).toBe(2);
  });

  test('an output failing its acceptance criterion fails the step with the reason, without retrying', async () => {
    const { task } = await send('r-picky', { customer: 'C-7' }, 'picky');
    expect(task?.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    const { explanation } = await client.explainTask({ taskId: task!.id, maxDepth: 0 });
    expect(explanation!.execution[0]).toMatchObject({
      state: StepState.STEP_STATE_FAILED,
      reason: 'acceptance criterion not met: output.income > 9000.0',
    });
    expect(explanation!.execution[0]!.attempts).toHaveLength(1);
  });

  test('StreamTask sends the task first, then its events in order, and ends when it completes', async () => {
    const events: StreamTaskResponse[] = [];
    for await (const e of client.streamTask(
      { requestId: 'r-stream', skillId: 'advise', message: dataMessage('r-stream', { customer: 'C-5', amount: 20 }) },
      { deadlineMs: 60_000 },
    ))
      events.push(e);
    const first = events[0]!.event!;
    expect(first.event?.$case).toBe('task');
    const taskId = first.event?.$case === 'task' ? first.event.task.id : '';
    expect(taskId).not.toBe('');
    expect(events.every((e) => e.event!.taskId === taskId)).toBe(true);
    const rest = events.slice(1).map((e) => e.event!);
    expect(rest.map((e) => e.sequence)).toEqual([...rest.map((e) => e.sequence)].sort((a, b) => a - b));
    const kinds = rest.map((e) =>
      e.event?.$case === 'statusUpdate' ? TaskState[e.event.statusUpdate.status!.state] : e.event?.$case,
    );
    expect(kinds[0]).toBe('TASK_STATE_SUBMITTED');
    expect(kinds.indexOf('planCreated')).toBeLessThan(kinds.indexOf('stepStarted'));
    expect(kinds.lastIndexOf('stepFinished')).toBeLessThan(kinds.indexOf('artifactUpdate'));
    expect(kinds.at(-1)).toBe('TASK_STATE_COMPLETED');
  });

  test.each([
    ['no request_id', { requestId: '' }, 'request_id: required'],
    ['no parts', { message: { ...dataMessage('m', {}), parts: [] } }, 'message.parts: at least one part'],
    ['a data part that is a list', { message: dataMessage('m', [1, 2]) }, 'the data part must be a JSON object'],
    ['a data part that is a number', { message: dataMessage('m', 7) }, 'the data part must be a JSON object'],
  ])('a request with %s is INVALID_ARGUMENT and leaves no task behind', async (_n, change, message) => {
    const before = (await agentStore.tasks.list({})).length;
    const request = {
      requestId: `malformed-${message.length}`,
      skillId: 'advise',
      message: dataMessage('m', { customer: 'C', amount: 1 }),
      configuration: undefined,
      ...change,
    };
    await expect(client.sendTask(request)).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: expect.stringContaining(message),
    });
    expect((await agentStore.tasks.list({})).length).toBe(before);
  });

  test('cancel mid-plan aborts the running tool call and the later steps never run', async () => {
    const before = posted;
    const held = once(calls, 'held:cancel');
    const aborted = once(calls, 'aborted:cancel');
    const { task } = await send('r-cancel-plan', { label: 'cancel' }, 'hold-then-book', false);
    await held;
    const { task: canceled } = await client.cancelTask({ taskId: task!.id, reason: 'customer withdrew' });
    expect(canceled?.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    expect(statusText(canceled)).toBe('customer withdrew');
    await aborted;
    // The canceled run has unwound: whatever it would still have done, it has done.
    await runtime.idle(task!.id);
    expect(posted).toBe(before);
    expect((await agentStore.steps.list(task!.id)).map((t) => t.stepId)).not.toContain('book');
  });

  test("a task that runs out of its time fails with DEADLINE_EXCEEDED, and the tool's call is cut at that deadline", async () => {
    const aborted = once(calls, 'aborted:timeout');
    // 5 s for the task; the call waits up to 60 s (the clients' default): the task's own time is what ends it.
    const { task } = await send('r-timeout', { label: 'timeout' }, 'hold-then-book', true, 5_000);
    expect(task?.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(statusText(task)).toContain("step hold failed: step hold ran out of the task's time");
    await aborted;
    const { explanation } = await client.explainTask({ taskId: task!.id, maxDepth: 0 });
    expect(explanation!.execution[0]!.attempts.at(-1)!.code).toBe('DEADLINE_EXCEEDED');
  });

  test('a playbook that does not validate fails the task with the reasons, kept in the explanation', async () => {
    const { task } = await send('r-unplannable', {}, 'unplannable');
    expect(task?.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(statusText(task)).toMatch(/^planning failed: no valid plan: .*teleport/);
    const { explanation } = await client.explainTask({ taskId: task!.id, maxDepth: 0 });
    expect(explanation?.plan).toBeUndefined();
    expect(explanation?.planning?.attempts[0]!.validationErrors.join(' ')).toContain('teleport');
  });

  test('plan creation and every state change of a task are in the audit trail, which verifies', async () => {
    const { task } = await send('r-audited', { customer: 'C-8', amount: 30 });
    const records = auditOf(task!.id);
    expect(records.map((r) => [r.kind, r.outcome])).toEqual([
      ['task_state', 'SUBMITTED'],
      ['task_state', 'WORKING'],
      ['plan_created', 'WORKING'],
      ['task_state', 'COMPLETED'],
    ]);
    expect(records.every((r) => r.subject === 'demo/caller' && r.service === AGENT)).toBe(true);
    expect(records.find((r) => r.kind === 'plan_created')?.reason).toBe('3 steps: fetch, approve, book');
    expect(verifyAuditFile(join(dir, 'audit.jsonl')).ok).toBe(true);
  });

  test.each([
    ['WORKING', 'advise', { customer: 'C-9', amount: 40 }, TaskState.TASK_STATE_SUBMITTED],
    ['COMPLETED', 'advise', { customer: 'C-10', amount: 40 }, TaskState.TASK_STATE_WORKING],
    ['INPUT_REQUIRED', 'advise', { customer: 'C-11', amount: 40_000 }, TaskState.TASK_STATE_WORKING],
    ['FAILED', 'picky', { customer: 'C-12' }, TaskState.TASK_STATE_WORKING],
  ])('no caller sees a task become %s before its audit record is durable', async (outcome, skill, input, before) => {
    const held = auditSink.hold((e) => e.kind === 'task_state' && e.outcome === outcome && e.resource === skill);
    const seen: string[] = [];
    const answer = send(`r-held-${outcome}`, input, skill).then((r) => {
      seen.push(`SendTask ${TaskState[r.task!.status!.state]}`);
    });
    const taskId = (await held.reached).task_id!;
    // The record is held: the change waits for it, so every reader still gets the state before.
    const { task } = await client.getTask({ taskId, historyLength: 0 });
    expect(task?.status?.state).toBe(before);
    const stream = client.subscribeTask({ taskId, afterSequence: 0 })[Symbol.asyncIterator]();
    const first = (await stream.next()).value as StreamTaskResponse;
    expect(first.event?.event?.$case === 'task' && first.event.event.task.status?.state).toBe(before);
    expect(seen).toEqual([]);
    seen.push('released');
    held.release();
    for (let e = await stream.next(); !e.done; e = await stream.next()) {
      const event = e.value.event?.event;
      const state = event?.$case === 'statusUpdate' ? TaskState[event.statusUpdate.status!.state] : '';
      if (state === `TASK_STATE_${outcome}`) break;
    }
    await stream.return?.(undefined);
    expect(auditOf(taskId).map((r) => r.outcome)).toContain(outcome);
    await answer;
    expect(seen[0]).toBe('released');
  });

  test('no caller sees a task CANCELED before its audit record is durable', async () => {
    const entered = once(calls, 'slow');
    const { task } = await send('r-held-cancel', {}, 'wait', false);
    await entered;
    const held = auditSink.hold((e) => e.outcome === 'CANCELED' && e.task_id === task!.id);
    const canceled = client.cancelTask({ taskId: task!.id, reason: 'held' });
    await held.reached;
    expect((await client.getTask({ taskId: task!.id, historyLength: 0 })).task?.status?.state).toBe(
      TaskState.TASK_STATE_WORKING,
    );
    held.release();
    expect((await canceled).task?.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    expect(auditOf(task!.id).map((r) => r.outcome)).toContain('CANCELED');
  });

  test('refusals of bad requests do not open the circuit: the collaborator is up', async () => {
    for (let i = 0; i < 7; i++) {
      const { task } = await send(`r-refuse-${i}`, {}, 'refuse');
      expect(task?.status?.state).toBe(TaskState.TASK_STATE_FAILED);
      expect(statusText(task)).toContain('account: not a ledger account');
    }
    expect(refusedCalls).toBe(7);
  });

  // Last: it leaves the ledger's circuit open for this agent.
  test('repeated failures open the circuit; the next task fails fast without calling the tool', async () => {
    const first = await send('r-broken-1', {}, 'broken');
    expect(first.task?.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(brokenCalls).toBe(5);
    const second = await send('r-broken-2', {}, 'broken');
    expect(second.task?.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    const { explanation } = await client.explainTask({ taskId: second.task!.id, maxDepth: 0 });
    expect(explanation!.execution[0]!.reason).toContain('circuit open for tool:banking/ledger: failing fast');
    expect(brokenCalls).toBe(5);
  });
});
