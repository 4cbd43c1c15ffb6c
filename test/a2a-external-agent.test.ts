// An agentmesh agent uses an agent of another framework as a collaborator over A2A. The partner
// agent is built here with the official SDK's server (DefaultRequestHandler, an AgentExecutor,
// InMemoryTaskStore) on a grpc-js server over TLS with a certificate of its own CA; it asks for the
// mesh's workload certificate (mutual TLS) and verifies bearer tokens against the mesh's JWKS (it
// trusts the mesh's issuer). An administrator registers it in the registry from its A2A card; the
// agentmesh agent (a process) finds it through its collaborators scope and its playbooks name it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Server,
  ServerCredentials,
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { AgentCard as A2aCardJson, Role, TaskState as A2aState, type Message as A2aMessage } from '@a2a-js/sdk';
import {
  AgentEvent,
  DefaultRequestHandler,
  InMemoryTaskStore,
  type AgentExecutor,
  type ExecutionEventBus,
  type RequestContext,
} from '@a2a-js/sdk/server';
import { A2AService, grpcService } from '@a2a-js/sdk/server/grpc';
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import type { SendTaskRequest } from '../gen/agentmesh/v1/agent_service.js';
import { AgentCard } from '../gen/agentmesh/v1/card.js';
import { PlanStep } from '../gen/agentmesh/v1/plan.js';
import { TaskState } from '../gen/agentmesh/v1/task.js';
import { startTestMesh, TEST_CALLER, type TestMesh } from '../mesh/testing/index.js';
import { createCa, issueWorkloadCert } from '../mesh/security/dev-ca.js';
import { httpRequest } from '../mesh/security/https-client.js';
import { issuerMetadata } from '../mesh/security/issuer-metadata.js';
import { A2aStepRunner, type ExternalAgent } from '../mesh/runtime/a2a/a2a-step-runner.js';
import type { StepCall } from '../mesh/runtime/executor.js';

const CALLER_AGENT = 'demo/a2a-caller';
const FX = 'partners/fx';
const FOREIGN = 'partners/foreign-fx';
/** Its card's OAuth2 requirement lists no scopes. */
const UNSCOPED = 'partners/unscoped-fx';
const FOREIGN_TOKEN_URL = 'https://idp.partner.example/oauth2/token';

const request = (requestId: string, skillId: string, amount = 50): SendTaskRequest => ({
  requestId,
  skillId,
  message: {
    messageId: requestId,
    contextId: '',
    taskId: '',
    role: 1,
    parts: [{ content: { $case: 'data', data: { amount } }, metadata: undefined, filename: '', mediaType: '' }],
    metadata: undefined,
    referenceTaskIds: [],
  },
  configuration: { blocking: true, historyLength: 0, timeout: undefined },
});

/** The partner agent: what it received, and the SDK server it runs. */
class PartnerAgent {
  /** Every call that reached the server (any method), in order. */
  readonly calls: string[] = [];
  /** The message ids of SendMessage calls, as they arrived (also those answered UNAVAILABLE). */
  readonly messageIds: string[] = [];
  /** The tasks its executor created, by message id. */
  readonly executed: string[] = [];
  /** The tasks its executor was asked to cancel. */
  readonly canceled: string[] = [];
  /** The verified claims of each call's token. */
  readonly claims: JWTPayload[] = [];
  /** Tasks of the `late` and `cut` skills wait (WORKING) until released. */
  private readonly gates = new Map<string, () => void>();
  /** The methods whose answer was lost after the handler acted (in order). */
  readonly lostAnswers: string[] = [];
  /** The first call for which it returns true has its answer lost (once). */
  loseAnswer?: (method: string) => boolean;
  /** Runs before a unary answer is sent (the answer waits for it). */
  beforeAnswer?: (method: string, answer: unknown) => Promise<void>;
  /** Runs after a unary answer was sent. */
  afterAnswer?: (method: string, answer: unknown) => void;
  /** Ends a SubscribeToTask stream at once, with no event, when it returns true. */
  cutSubscription?: (taskId: string) => boolean;
  private handler?: DefaultRequestHandler;
  /** The call context each task was created in (its owner: the task store is scoped by user). */
  private readonly taskContexts = new Map<string, RequestContext['context']>();
  private readonly flaked = new Set<string>();
  /** Each task's context id, by task id. */
  readonly contexts = new Map<string, string>();
  private server = new Server();
  address = '';

  constructor(
    private readonly mesh: { issuer: string; caPem: string; jwks: JSONWebKeySet },
    private readonly tls: { cert: string; key: string },
  ) {}

  /** Completes `convert` with an artifact (the amount doubled), fails `refuse` with a reason. */
  private readonly executor: AgentExecutor = {
    execute: async (ctx: RequestContext, bus: ExecutionEventBus) => {
      this.executed.push(ctx.userMessage.messageId);
      const { taskId, contextId } = ctx;
      this.contexts.set(taskId, contextId);
      const input = ctx.userMessage.parts.find((p) => p.content?.$case === 'data')?.content?.value as {
        amount: number;
      };
      const status = (state: A2aState, text?: string) => ({
        state,
        message: text ? this.text(taskId, contextId, text) : undefined,
        timestamp: new Date().toISOString(),
      });
      bus.publish(
        AgentEvent.task({
          id: taskId,
          contextId,
          status: status(A2aState.TASK_STATE_WORKING),
          artifacts: [],
          history: [],
          metadata: undefined,
        }),
      );
      this.taskContexts.set(taskId, ctx.context);
      const skillId = ctx.request.metadata?.skillId;
      if (skillId === 'late' || skillId === 'cut')
        await new Promise<void>((resolve) => this.gates.set(taskId, resolve));
      if (skillId === 'ask') {
        bus.publish(
          AgentEvent.statusUpdate({
            taskId,
            contextId,
            status: status(A2aState.TASK_STATE_INPUT_REQUIRED, 'which currency?'),
            metadata: undefined,
          }),
        );
      } else if (skillId === 'refuse') {
        bus.publish(
          AgentEvent.statusUpdate({
            taskId,
            contextId,
            status: status(A2aState.TASK_STATE_FAILED, 'no rate for XTS today'),
            metadata: undefined,
          }),
        );
      } else {
        bus.publish(
          AgentEvent.artifactUpdate({
            taskId,
            contextId,
            artifact: {
              artifactId: 'conversion',
              name: 'conversion',
              description: '',
              parts: [
                {
                  content: { $case: 'data', value: { amount: input.amount * 2, currency: 'XTS' } },
                  metadata: undefined,
                  filename: '',
                  mediaType: 'application/json',
                },
              ],
              metadata: undefined,
              extensions: [],
            },
            append: false,
            lastChunk: true,
            metadata: undefined,
          }),
        );
        bus.publish(
          AgentEvent.statusUpdate({
            taskId,
            contextId,
            status: status(A2aState.TASK_STATE_COMPLETED),
            metadata: undefined,
          }),
        );
      }
      bus.finished();
    },
    cancelTask: async (taskId: string, bus: ExecutionEventBus) => {
      this.canceled.push(taskId);
      bus.publish(
        AgentEvent.statusUpdate({
          taskId,
          contextId: this.contexts.get(taskId) ?? '',
          status: { state: A2aState.TASK_STATE_CANCELED, message: undefined, timestamp: new Date().toISOString() },
          metadata: undefined,
        }),
      );
      bus.finished();
    },
  };

  /** Lets a waiting task complete; resolves once the task store says COMPLETED. */
  async release(taskId: string): Promise<void> {
    this.gates.get(taskId)!();
    // Event-driven: the handler saves the events as the executor publishes them; yield until it has.
    for (;;) {
      const task = await this.handler!.getTask(
        { tenant: '', id: taskId, historyLength: 0 },
        this.taskContexts.get(taskId)!,
      );
      if (task.status?.state === A2aState.TASK_STATE_COMPLETED) return;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private text(taskId: string, contextId: string, text: string): A2aMessage {
    return {
      messageId: `${taskId}-status`,
      contextId,
      taskId,
      role: Role.ROLE_AGENT,
      parts: [{ content: { $case: 'text', value: text }, metadata: undefined, filename: '', mediaType: '' }],
      metadata: undefined,
      extensions: [],
      referenceTaskIds: [],
    };
  }

  async start(card: (address: string) => Parameters<typeof A2aCardJson.fromJSON>[0]): Promise<void> {
    const keys = createLocalJWKSet(this.mesh.jwks);
    const handler = (this.handler = new DefaultRequestHandler(
      A2aCardJson.fromJSON(card('127.0.0.1:0')),
      new InMemoryTaskStore(),
      this.executor,
    ));
    const impl = grpcService({
      requestHandler: handler,
      // It trusts the mesh's issuer: a token for this agent, verified against the mesh's keys.
      userBuilder: async (call) => {
        const header = String(call.metadata.get('authorization')[0] ?? '');
        const { payload } = await jwtVerify(header.replace(/^Bearer /, ''), keys, {
          issuer: this.mesh.issuer,
          audience: FX,
        });
        this.claims.push(payload);
        return { isAuthenticated: true, userName: String(payload.sub) };
      },
    }) as unknown as UntypedServiceImplementation;
    // Every call is counted. The first SendMessage of a `flaky` message (once per message id), and
    // the first call `loseAnswer` picks, reach the SDK's handler, which acts; their answer is lost on
    // the way back (UNAVAILABLE instead), as when a connection drops after the work began.
    const counted: UntypedServiceImplementation = {};
    for (const [method, fn] of Object.entries(impl)) {
      counted[method] = (
        call: ServerUnaryCall<{ message?: A2aMessage }, unknown>,
        callback: sendUnaryData<unknown>,
      ) => {
        this.calls.push(method);
        let lost = false;
        if (method === 'sendMessage') {
          const message = call.request.message!;
          this.messageIds.push(message.messageId);
          const data = message.parts.find((p) => p.content?.$case === 'data')?.content?.value as { flaky?: boolean };
          if (data?.flaky && !this.flaked.has(message.messageId)) {
            this.flaked.add(message.messageId);
            lost = true;
          }
        }
        if (this.loseAnswer?.(method)) {
          this.loseAnswer = undefined;
          lost = true;
        }
        if (lost) {
          const reply = callback;
          callback = (err) => {
            this.lostAnswers.push(method);
            reply(err ?? { code: status.UNAVAILABLE, details: 'connection reset' });
          };
        }
        if (method === 'subscribeToTask' && this.cutSubscription?.((call.request as { id: string }).id)) {
          (call as unknown as { end(): void }).end();
          return;
        }
        if (!callback) return (fn as (c: unknown) => unknown)(call);
        const answer: sendUnaryData<unknown> = (err, value) => {
          if (err || !this.beforeAnswer) {
            callback(err, value);
            if (!err) this.afterAnswer?.(method, value);
            return;
          }
          void this.beforeAnswer(method, value).then(() => {
            callback(null, value);
            this.afterAnswer?.(method, value);
          });
        };
        return (fn as (c: unknown, cb: unknown) => unknown)(call, answer);
      };
    }
    this.server.addService(A2AService, counted);
    // Mutual TLS: its own certificate (its own CA), and the mesh's workload certificates from callers.
    const credentials = ServerCredentials.createSsl(
      Buffer.from(this.mesh.caPem),
      [{ cert_chain: Buffer.from(this.tls.cert), private_key: Buffer.from(this.tls.key) }],
      true,
    );
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync('127.0.0.1:0', credentials, (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.address = `127.0.0.1:${port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.tryShutdown(() => resolve()));
  }
}

/** The A2A card of the partner agent (ProtoJSON), its OAuth2 scheme at `tokenUrl` requiring `scopes`, plus mutual TLS. */
const partnerCard =
  (name: string, tokenUrl: string, scopes = ['task.write']) =>
  (address: string) => ({
    name,
    description: 'Converts amounts to XTS (an agent of another framework)',
    version: '2.1.0',
    supportedInterfaces: [{ url: address, protocolBinding: 'GRPC', protocolVersion: '1.0' }],
    capabilities: { streaming: true, pushNotifications: false },
    securitySchemes: {
      oauth2: {
        oauth2SecurityScheme: {
          description: 'tokens of the issuer this agent trusts',
          flows: { clientCredentials: { tokenUrl, scopes: { 'task.write': 'convert amounts' } } },
        },
      },
      mtls: { mtlsSecurityScheme: { description: 'client certificates of the mesh CA' } },
    },
    securityRequirements: [{ schemes: { oauth2: { list: scopes }, mtls: { list: [] } } }],
    defaultInputModes: ['application/json'],
    defaultOutputModes: ['application/json'],
    skills: [
      {
        id: 'convert',
        name: 'Convert',
        description: 'Converts an amount to XTS',
        tags: ['fx'],
        examples: ['{"amount": 50}'],
      },
      { id: 'refuse', name: 'Refuse', description: 'Refuses every amount', tags: ['fx'], examples: [] },
      { id: 'ask', name: 'Ask', description: 'Asks which currency', tags: ['fx'], examples: [] },
      { id: 'late', name: 'Late', description: 'Converts, after a while', tags: ['fx'], examples: [] },
      { id: 'cut', name: 'Cut', description: 'Converts, after a while', tags: ['fx'], examples: [] },
    ],
  });

/**
 * The registry entry an administrator makes from an A2A card: skills from the card, external, with
 * its CA (the registry derives its one endpoint from the card's GRPC interface).
 */
const externalEntry = (name: string, a2aJson: Record<string, unknown>, caPem: string) => {
  const a2a = A2aCardJson.fromJSON(a2aJson);
  return AgentCard.fromPartial({
    name,
    version: a2a.version,
    purpose: a2a.description,
    owner: 'partner-co',
    skills: a2a.skills.map((s) => ({
      id: s.id,
      name: s.name,
      description: s.description,
      tags: s.tags,
      examples: s.examples.map((text) => ({ text })),
      inputSchema: { type: 'object' },
    })),
    a2a: { card: a2aJson, cardUrl: '', external: true, caPem },
  });
};

/** The task id in a SendMessage or GetTask answer. */
const taskIdOf = (answer: unknown) =>
  (answer as { payload?: { value?: { id?: string } }; id?: string }).payload?.value?.id ??
  (answer as { id?: string }).id ??
  '';

describe('an external A2A agent (the official SDK server) as a collaborator of an agentmesh agent', () => {
  let mesh: TestMesh;
  let partner: PartnerAgent;
  let partnerCa: Awaited<ReturnType<typeof createCa>>;
  let meshPeer: { issuer: string; caPem: string; jwks: JSONWebKeySet };
  /** Other A2A servers started by a test (stopped at the end). */
  const others: PartnerAgent[] = [];

  /** The runner as the caller agent builds it: the mesh's token endpoint, the caller agent's certificate. */
  const directRunner = (exchanges: string[] = []) =>
    new A2aStepRunner({
      meshTokenUrl: mesh.tokenUrl,
      trustDomain: (JSON.parse(readFileSync(join(mesh.home, 'mesh.json'), 'utf8')) as { trustDomain: string })
        .trustDomain,
      // The token the partner accepts (audience FX, the mesh's issuer): what an exchange would return.
      exchange: (_subject, audience, scopes) => {
        exchanges.push(audience);
        return mesh.tokens.getToken(audience, scopes);
      },
      tls: () => {
        const certs = join(mesh.home, 'certs');
        return {
          ca: readFileSync(join(certs, 'ca.crt')),
          cert: readFileSync(join(certs, 'demo', 'a2a-caller.crt')),
          key: readFileSync(join(certs, 'demo', 'a2a-caller.key')),
        };
      },
    });
  /** The external agent as the registry describes it (its endpoint: `address`). */
  const externalAgent = (json: Record<string, unknown>, address: string, caPem: string): ExternalAgent => ({
    name: FX,
    card: A2aCardJson.fromJSON(json),
    caPem,
    address,
    choice: { name: FX, version: '2.1.0', address, reasons: [], score: 0, alternatives: [] },
  });
  /** One attempt of an agent step on FX's `skillId`, with a deadline of a minute. */
  const stepCall = (id: string, skillId = 'convert', signal = AbortSignal.timeout(60_000)): StepCall => ({
    taskId: `task-${id}`,
    step: PlanStep.fromPartial({ id: 'partner', target: { $case: 'agent', agent: { agent: FX, skillId } } }),
    args: { amount: 3 },
    attempt: 1,
    idempotencyKey: `task-${id}:partner:1`,
    signal,
    deadline: Date.now() + 60_000,
    childTaskCreated: () => undefined,
  });

  beforeAll(async () => {
    mesh = await startTestMesh({ agents: [CALLER_AGENT] });
    const caPem = readFileSync(join(mesh.home, 'certs', 'ca.crt'), 'utf8');
    const { jwks_uri } = await issuerMetadata(mesh.issuer, caPem);
    const jwks = JSON.parse(
      (await httpRequest(jwks_uri!, { method: 'GET', ca: caPem })).body.toString(),
    ) as JSONWebKeySet;
    // The partner's certificate is from its own CA, not the mesh's: the registry entry carries that CA.
    partnerCa = await createCa('partner.example', 1);
    const pair = await issueWorkloadCert(partnerCa, {
      spiffeId: 'spiffe://partner.example/ns/partners/sa/fx',
      commonName: 'fx.partner.example',
    });
    meshPeer = { issuer: mesh.issuer, caPem, jwks };
    partner = new PartnerAgent(meshPeer, pair);
    await partner.start(partnerCard(FX, mesh.tokenUrl));
    const registry = mesh.registry();
    for (const [name, tokenUrl, scopes] of [
      [FX, mesh.tokenUrl, ['task.write']],
      [FOREIGN, FOREIGN_TOKEN_URL, ['task.write']],
      [UNSCOPED, mesh.tokenUrl, []],
    ] as const) {
      const json = partnerCard(name, tokenUrl, [...scopes])(partner.address) as unknown as Record<string, unknown>;
      await registry.registerExternalAgent({ card: externalEntry(name, json, partnerCa.certPem) });
    }
    await mesh.startAgent('test/fixtures/a2a-caller-agent.ts', { name: CALLER_AGENT });
  }, 180_000);

  afterAll(async () => {
    for (const other of others) await other.stop();
    await partner?.stop();
    await mesh?.stop();
  });

  // The playbooks' steps are validated against the planner's inventory: every task below that runs
  // its step shows the external agent's skills are in it.
  test('registered from its A2A card, the external agent is discovered like any agent, with its skills', async () => {
    const { matches } = await mesh.registry().discover({
      scope: { visibility: { names: [FX], namespaces: [], patterns: [] }, characteristics: undefined },
      maxResults: 1,
    });
    const card = matches[0]!.entry!.card!;
    expect(card.$case === 'agent' && card.agent.a2a?.external).toBe(true);
    expect(card.$case === 'agent' && card.agent.skills.map((s) => s.id)).toEqual([
      'convert',
      'refuse',
      'ask',
      'late',
      'cut',
    ]);
  });

  test('a step on the external agent completes with its result, with the caller delegated; the explanation shows a gap for it', async () => {
    const agent = mesh.agent(CALLER_AGENT);
    const { task } = await agent.sendTask(request('convert-1', 'convert', 50));
    expect(task!.status!.state).toBe(TaskState.TASK_STATE_COMPLETED);
    const result = task!.artifacts.find((a) => a.name === 'result') ?? task!.artifacts[0];
    expect(JSON.stringify(result)).toContain('"currency":"XTS"');
    expect(JSON.stringify(result)).toContain('"amount":100');

    // The partner saw the original caller as subject and this agent as the actor, from the mesh's issuer.
    const claims = partner.claims.at(-1)!;
    const callerSub = decodeJwt(await mesh.tokens.getToken(CALLER_AGENT, ['task.write'])).sub;
    expect(callerSub).toBe(TEST_CALLER);
    expect(claims.sub).toBe(callerSub);
    expect((claims.act as { sub: string }).sub).toBe(CALLER_AGENT);
    expect(claims.aud).toBe(FX);
    // The scopes its card's requirement lists, and no more of the caller's.
    expect(claims.scope).toBe('task.write');

    // Explaining does not call the external agent (the reader's token is not sent out).
    const calls = partner.calls.length;
    const { explanation } = await agent.explainTask({ taskId: task!.id, maxDepth: 2 });
    expect(partner.calls.length).toBe(calls);
    const step = explanation!.execution.find((e) => e.stepId === 'partner')!;
    const ref = step.attempts.at(-1)!.childTask!;
    expect(ref.agent).toBe(FX);
    expect(ref.taskId).not.toBe('');
    expect(step.attempts.at(-1)!.idempotencyKey).toBe(`${task!.id}:partner:1`);
    expect(partner.messageIds.at(-1)).toBe(`${task!.id}:partner:1`);
    const child = explanation!.children.find((c) => c.stepId === 'partner')!;
    expect(child.task).toEqual(ref);
    expect(child.result?.$case).toBe('gap');
    const gap = child.result?.$case === 'gap' ? child.result.gap : undefined;
    expect(gap!.code).toBe('UNIMPLEMENTED');
    expect(gap!.reason).toContain(`${FX} is an external A2A agent and cannot explain itself`);
    expect(gap!.reason).toContain(`its task ${ref.taskId} was COMPLETED when step partner ended`);
    const chosen = explanation!.collaborators.find((c) => c.stepId === 'partner')!;
    expect(chosen.address).toBe(partner.address);
  }, 120_000);

  test('the external agent refusing fails the step with its reason', async () => {
    const { task } = await mesh.agent(CALLER_AGENT).sendTask(request('refuse-1', 'refuse'));
    expect(task!.status!.state).toBe(TaskState.TASK_STATE_FAILED);
    const why = task!.status!.message!.parts.map((p) => (p.content?.$case === 'text' ? p.content.text : '')).join('');
    expect(why).toContain(`external A2A agent ${FX}`);
    expect(why).toContain('ended FAILED: no rate for XTS today');
    // The explanation's gap says what the step recorded of the external task, without asking the agent.
    const calls = partner.calls.length;
    const { explanation } = await mesh.agent(CALLER_AGENT).explainTask({ taskId: task!.id, maxDepth: 2 });
    expect(partner.calls.length).toBe(calls);
    const child = explanation!.children.find((c) => c.stepId === 'partner')!;
    const gap = child.result?.$case === 'gap' ? child.result.gap : undefined;
    expect(gap!.reason).toContain(
      `its task ${child.task!.taskId}: step partner ended FAILED_PRECONDITION with it (external A2A agent ${FX} task ${child.task!.taskId} ended FAILED: no rate for XTS today)`,
    );
  }, 120_000);

  test('an external task asking for input fails the step (not bridged) and is canceled there', async () => {
    const { task } = await mesh.agent(CALLER_AGENT).sendTask(request('ask-1', 'ask'));
    expect(task!.status!.state).toBe(TaskState.TASK_STATE_FAILED);
    const why = task!.status!.message!.parts.map((p) => (p.content?.$case === 'text' ? p.content.text : '')).join('');
    expect(why).toContain(
      'asks for input (INPUT_REQUIRED), which agentmesh does not bridge across A2A: which currency?',
    );
    expect(partner.calls.at(-1)).toBe('cancelTask');
    expect(partner.canceled.at(-1)).toBe(
      (await mesh.agent(CALLER_AGENT).explainTask({ taskId: task!.id, maxDepth: 1 })).explanation!.execution[0]!
        .attempts[0]!.childTask!.taskId,
    );
  }, 120_000);

  test('a SendMessage answer lost after the agent created the task: the retry takes that task up, not a second one', async () => {
    const before = partner.executed.length;
    const calls = partner.calls.length;
    const { task } = await mesh.agent(CALLER_AGENT).sendTask(request('flaky-1', 'flaky', 7));
    expect(task!.status!.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(JSON.stringify(task!.artifacts)).toContain('"amount":14');
    const id = `${task!.id}:partner:1`;
    // Sent once: the handler ran (one task), its answer was lost, the retry found the task in the key's context.
    expect(partner.lostAnswers.at(-1)).toBe('sendMessage');
    expect(partner.messageIds.filter((m) => m === id)).toEqual([id]);
    expect(partner.executed.slice(before)).toEqual([id]);
    expect(partner.calls.slice(calls, calls + 3)).toEqual(['sendMessage', 'listTasks', 'getTask']);
    const { explanation } = await mesh.agent(CALLER_AGENT).explainTask({ taskId: task!.id, maxDepth: 1 });
    const attempts = explanation!.execution.find((e) => e.stepId === 'partner')!.attempts;
    expect(attempts.map((a) => [a.code, a.idempotencyKey])).toEqual([
      ['UNAVAILABLE', id],
      ['OK', id],
    ]);
    expect(attempts[1]!.childTask!.taskId).not.toBe('');
  }, 120_000);

  test('an attempt that recorded its external task and then lost an answer: the retry follows that task, sending nothing', async () => {
    const before = partner.executed.length;
    const calls = partner.calls.length;
    // The task completes before SendMessage answers; the first GetTask answer is then lost.
    partner.beforeAnswer = (method, answer) =>
      method === 'sendMessage' ? partner.release(taskIdOf(answer)) : Promise.resolve();
    partner.loseAnswer = (method) => method === 'getTask';
    try {
      const { task } = await mesh.agent(CALLER_AGENT).sendTask(request('late-lost-1', 'late', 6));
      expect(task!.status!.state).toBe(TaskState.TASK_STATE_COMPLETED);
      expect(JSON.stringify(task!.artifacts)).toContain('"amount":12');
      expect(partner.executed.slice(before)).toHaveLength(1);
      expect(partner.calls.slice(calls)).toEqual(['sendMessage', 'subscribeToTask', 'getTask', 'getTask']);
      const { explanation } = await mesh.agent(CALLER_AGENT).explainTask({ taskId: task!.id, maxDepth: 1 });
      const attempts = explanation!.execution.find((e) => e.stepId === 'partner')!.attempts;
      expect(attempts.map((a) => a.code)).toEqual(['UNAVAILABLE', 'OK']);
      expect(attempts[1]!.childTask).toEqual(attempts[0]!.childTask);
    } finally {
      partner.beforeAnswer = undefined;
      partner.loseAnswer = undefined;
    }
  }, 120_000);

  test('a card asking for a token of another issuer fails the step, naming the token URL; the agent gets no call', async () => {
    const calls = partner.calls.length;
    const { task } = await mesh.agent(CALLER_AGENT).sendTask(request('foreign-1', 'foreign'));
    expect(task!.status!.state).toBe(TaskState.TASK_STATE_FAILED);
    const why = task!.status!.message!.parts.map((p) => (p.content?.$case === 'text' ? p.content.text : '')).join('');
    expect(why).toContain(`cannot call external A2A agent ${FOREIGN}`);
    expect(why).toContain(`requires an OAuth2 token from ${FOREIGN_TOKEN_URL}`);
    expect(why).toContain("the caller's token is never passed to another issuer");
    expect(partner.calls.length).toBe(calls);
    const { explanation } = await mesh.agent(CALLER_AGENT).explainTask({ taskId: task!.id, maxDepth: 1 });
    // Not retried: the card would have to change.
    expect(explanation!.execution.find((e) => e.stepId === 'partner')!.attempts).toHaveLength(1);
  }, 120_000);
  test('a card listing a second GRPC interface: the runner dials only the registered one (the other gets no call, no token)', async () => {
    // Another server the partner's CA vouches for: were it dialed, it would get the caller's delegated token.
    const pair = await issueWorkloadCert(partnerCa, {
      spiffeId: 'spiffe://partner.example/ns/partners/sa/decoy',
      commonName: 'decoy.partner.example',
    });
    const decoy = new PartnerAgent(meshPeer, pair);
    others.push(decoy);
    await decoy.start(partnerCard(FX, mesh.tokenUrl));
    const json = partnerCard(FX, mesh.tokenUrl)(partner.address) as unknown as Record<string, unknown>;
    const interfaces = json.supportedInterfaces as object[];
    json.supportedInterfaces = [...interfaces, { url: decoy.address, protocolBinding: 'GRPC', protocolVersion: '1.0' }];
    const runner = directRunner();
    try {
      const executed = partner.executed.length;
      const result = await runner.run(
        stepCall('two-interfaces'),
        externalAgent(json, partner.address, partnerCa.certPem),
        () => 'caller-token',
      );
      expect(JSON.stringify(result.output)).toContain('"amount":6');
      expect(partner.executed.slice(executed)).toEqual(['task-two-interfaces:partner:1']);
      expect(decoy.calls).toEqual([]);
    } finally {
      runner.close();
    }
  }, 120_000);
  /** Another A2A server answering as FX with the given certificate (stopped at the end). */
  const otherServer = async (pair: { cert: string; key: string }) => {
    const server = new PartnerAgent(meshPeer, pair);
    others.push(server);
    await server.start(partnerCard(FX, mesh.tokenUrl));
    return server;
  };
  const meshWorkloadPair = () => ({
    cert: readFileSync(join(mesh.home, 'certs', 'demo', 'a2a-caller.crt'), 'utf8'),
    key: readFileSync(join(mesh.home, 'certs', 'demo', 'a2a-caller.key'), 'utf8'),
  });

  test.each([
    ['empty ca_pem (the system roots, not the mesh CA)', () => ''],
    ['ca_pem naming the mesh CA (a mesh workload is not an external agent)', () => meshPeer.caPem],
  ])(
    'a server presenting a mesh workload certificate is refused, with %s: it gets no call, no token',
    async (_, caPem) => {
      const impostor = await otherServer(meshWorkloadPair());
      const json = partnerCard(FX, mesh.tokenUrl)(impostor.address) as unknown as Record<string, unknown>;
      const runner = directRunner();
      try {
        const err = await runner
          .run(
            stepCall(`impostor-${others.length}`),
            externalAgent(json, impostor.address, caPem()),
            () => 'caller-token',
          )
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(Error);
        expect(impostor.calls).toEqual([]);
        expect(impostor.claims).toEqual([]);
      } finally {
        runner.close();
      }
    },
    120_000,
  );

  test("a server whose certificate is not from the entry's CA bundle is refused", async () => {
    const otherCa = await createCa('other.example', 1);
    const impostor = await otherServer(
      await issueWorkloadCert(otherCa, {
        spiffeId: 'spiffe://other.example/ns/partners/sa/fx',
        commonName: 'fx.other.example',
      }),
    );
    const json = partnerCard(FX, mesh.tokenUrl)(impostor.address) as unknown as Record<string, unknown>;
    const runner = directRunner();
    try {
      const err = await runner
        .run(stepCall('wrong-ca'), externalAgent(json, impostor.address, partnerCa.certPem), () => 'caller-token')
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect(impostor.calls).toEqual([]);
    } finally {
      runner.close();
    }
  }, 120_000);
  test('a card whose OAuth2 requirement lists no scopes fails the step before any call, naming the requirement; not retried', async () => {
    const calls = partner.calls.length;
    const { task } = await mesh.agent(CALLER_AGENT).sendTask(request('unscoped-1', 'unscoped'));
    expect(task!.status!.state).toBe(TaskState.TASK_STATE_FAILED);
    const why = task!.status!.message!.parts.map((p) => (p.content?.$case === 'text' ? p.content.text : '')).join('');
    expect(why).toContain(`cannot call external A2A agent ${UNSCOPED}`);
    expect(why).toContain("its card's security requirement 0 lists no scopes for OAuth2 scheme oauth2");
    expect(partner.calls.length).toBe(calls);
    const { explanation } = await mesh.agent(CALLER_AGENT).explainTask({ taskId: task!.id, maxDepth: 1 });
    expect(explanation!.execution.find((e) => e.stepId === 'partner')!.attempts).toHaveLength(1);
  }, 120_000);

  test('a task that answers WORKING and completes before SubscribeToTask (refused as terminal): the step completes', async () => {
    const calls = partner.calls.length;
    // The task completes once SendMessage has answered WORKING and before that answer is sent on.
    partner.beforeAnswer = (method, answer) =>
      method === 'sendMessage' ? partner.release(taskIdOf(answer)) : Promise.resolve();
    try {
      const { task } = await mesh.agent(CALLER_AGENT).sendTask(request('late-1', 'late', 4));
      expect(task!.status!.state).toBe(TaskState.TASK_STATE_COMPLETED);
      expect(JSON.stringify(task!.artifacts)).toContain('"amount":8');
      expect(partner.calls.slice(calls)).toEqual(['sendMessage', 'subscribeToTask', 'getTask']);
    } finally {
      partner.beforeAnswer = undefined;
    }
  }, 120_000);

  test('a subscription that ends before the task settles: GetTask is polled until it does', async () => {
    const calls = partner.calls.length;
    let released = false;
    partner.cutSubscription = () => true;
    // The task completes only once the first GetTask has answered WORKING.
    partner.afterAnswer = (method, answer) => {
      if (method !== 'getTask' || released) return;
      released = true;
      void partner.release(taskIdOf(answer));
    };
    try {
      const { task } = await mesh.agent(CALLER_AGENT).sendTask(request('cut-1', 'cut', 5));
      expect(task!.status!.state).toBe(TaskState.TASK_STATE_COMPLETED);
      expect(JSON.stringify(task!.artifacts)).toContain('"amount":10');
      expect(partner.calls.slice(calls, calls + 4)).toEqual(['sendMessage', 'subscribeToTask', 'getTask', 'getTask']);
    } finally {
      partner.cutSubscription = undefined;
      partner.afterAnswer = undefined;
    }
  }, 120_000);
  test('each call to the external agent carries a token exchanged for it (a long follow outlives a token)', async () => {
    const exchanges: string[] = [];
    const runner = directRunner(exchanges);
    const calls = partner.calls.length;
    try {
      const json = partnerCard(FX, mesh.tokenUrl)(partner.address) as unknown as Record<string, unknown>;
      const result = await runner.run(
        stepCall('per-call-token'),
        externalAgent(json, partner.address, partnerCa.certPem),
        () => 'caller-token',
      );
      expect(JSON.stringify(result.output)).toContain('"amount":6');
      const made = partner.calls.slice(calls);
      expect(made.length).toBeGreaterThan(1);
      expect(exchanges).toEqual(made.map(() => FX));
    } finally {
      runner.close();
    }
  }, 120_000);
  test("a step stopped before SendMessage answered: the task it created there is canceled (found in the key's context)", async () => {
    const runner = directRunner();
    const stop = new AbortController();
    const executed = partner.executed.length;
    // The task exists (WORKING, waiting) when the step is stopped, before the answer reaches it.
    partner.beforeAnswer = async (method) => {
      if (method === 'sendMessage') stop.abort(new Error('the task was canceled'));
    };
    try {
      const json = partnerCard(FX, mesh.tokenUrl)(partner.address) as unknown as Record<string, unknown>;
      const err = await runner
        .run(
          stepCall('stopped-early', 'late', stop.signal),
          externalAgent(json, partner.address, partnerCa.certPem),
          () => 'caller-token',
        )
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect(partner.executed.slice(executed)).toEqual(['task-stopped-early:partner:1']);
      const canceled = partner.calls.lastIndexOf('cancelTask');
      expect(partner.calls.slice(canceled - 1, canceled + 1)).toEqual(['listTasks', 'cancelTask']);
      // The one canceled is the task this step's message created (its context is the step's key).
      expect(partner.contexts.get(partner.canceled.at(-1)!)).toBe('task-stopped-early:partner:1');
    } finally {
      partner.beforeAnswer = undefined;
      runner.close();
    }
  }, 120_000);
});
