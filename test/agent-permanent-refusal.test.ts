// A step whose collaborator refuses the request permanently (RESOURCE_EXHAUSTED with
// `grpc-retry-pushback-ms: -1`: here the scorer's message size limit) is attempted once, fails its
// task with the refusal, and does not count toward the collaborator's circuit: one bad request
// must not cut everyone off from a healthy agent. A refusal without the trailer ("quota: try
// later") is retried as before. Two agents over real gRPC servers with mTLS and tokens; the
// scorer's server counts the SendTask calls it is given.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentServiceService, type SendTaskRequest } from '../gen/agentmesh/v1/agent_service.js';
import { AgentCard } from '../gen/agentmesh/v1/card.js';
import { TaskState, type Task } from '../gen/agentmesh/v1/task.js';
import {
  AgentRuntime,
  AgentStepRunner,
  agentService,
  ClientPool,
  Code,
  createClient,
  createServer,
  inventoryFromCards,
  loadStateConfig,
  MeshError,
  openStore,
  PlaybookPlanner,
  requestMessage,
  StepRunners,
  toolCardOf,
  toolService,
  type Interceptor,
  type MeshClient,
  type MeshServer,
  type Store,
  type ToolSpec,
} from '../mesh/index.js';
import { LocalToolRunner } from '../mesh/runtime/local-tools.js';
import { parsePolicy } from '../mesh/security/policy.js';
import { securityInterceptor } from '../mesh/security/security-interceptor.js';
import { TokenVerifier } from '../mesh/security/token-verifier.js';
import { captureLogger } from './helpers/log-capture.js';
import { TRUST_DOMAIN } from './helpers/pki.js';
import { createSecureFixture, idOf, type SecureFixture } from './helpers/secure-mesh.js';

const SCORER = 'lending/scorer';
const ADVISOR = 'lending/advisor';
/** The scorer's limit on a request's message: a customer name of 300 characters is over it. */
const SCORER_MAX_INPUT_BYTES = 256;

const skill = (id: string) => ({
  id,
  name: id,
  description: id,
  inputSchema: { type: 'object', required: ['customer'], properties: { customer: { type: 'string' } } },
});
const card = (name: string, sa: string, skillId: string) =>
  AgentCard.fromPartial({
    name,
    version: '1.0.0',
    purpose: name,
    owner: 'team',
    identity: idOf('lending', sa),
    skills: [skill(skillId)],
  });
const scorerCard = card(SCORER, 'scorer', 'score');
const advisorCard = card(ADVISOR, 'advisor', 'advise');
const tools: ToolSpec[] = [
  {
    name: 'score',
    description: 'Scores a customer',
    argumentsSchema: { type: 'object' },
    idempotent: true,
    handler: async (args) => ({ customer: args.customer, score: 700 }),
  },
];

/** The advisor's task id a SendTask to the scorer is for (its request id is `<task>:<step>:<attempt>`). */
const parentTaskOf = (req: SendTaskRequest) => req.requestId.split(':')[0]!;
const customerOf = (req: SendTaskRequest) => {
  const data = req.message?.parts[0]?.content;
  return data?.$case === 'data' ? (data.data as { customer?: string }).customer : undefined;
};

describe('a permanent refusal inside a task plan', () => {
  let fx: SecureFixture;
  let dir: string;
  const stores: Store[] = [];
  const servers: MeshServer[] = [];
  let advisor: MeshClient<typeof AgentServiceService>;
  /** SendTask calls the scorer was given, per advisor task. */
  const sendTasks = new Map<string, number>();

  beforeAll(async () => {
    fx = await createSecureFixture([
      { client_id: 'demo/caller', scopes: ['task.read', 'task.write'], audiences: [ADVISOR] },
      { client_id: ADVISOR, scopes: ['task.read', 'task.write'], audiences: [SCORER], token_exchange: true },
    ]);
    dir = mkdtempSync(join(tmpdir(), 'refusal-'));
    const log = captureLogger('refusal').log;
    const store = async (name: string) => {
      const s = await openStore({
        service: name,
        config: loadStateConfig({ AGENTMESH_DATA_DIR: join(dir, name.replace('/', '-')) }),
      });
      stores.push(s);
      return s;
    };
    const serve = async (name: string, sa: string, caller: string, inner: Interceptor, runtime: AgentRuntime) => {
      const transport = await fx.transportFor('lending', sa);
      const security = securityInterceptor({
        transport,
        verifier: new TokenVerifier({
          issuer: fx.auth.issuer,
          audience: name,
          jwksUrl: fx.auth.jwksUrl,
          ca: fx.pki.ca.certPem,
        }),
        policy: parsePolicy(
          {
            service: name,
            rules: [{ methods: ['agentmesh.v1.AgentService/*'], callers: [caller], scopes: ['task.write'] }],
          },
          TRUST_DOMAIN,
        ),
        log,
      });
      const cardOf = name === SCORER ? scorerCard : advisorCard;
      const server = createServer({ logger: log })
        .use(security)
        .use(inner)
        .add(AgentServiceService, agentService(cardOf, runtime, stores.at(-1)!));
      servers.push(server);
      return `127.0.0.1:${await server.listen('127.0.0.1:0', transport.serverCredentials())}`;
    };

    // The scorer: a local tool behind a small message limit. Its server counts SendTask calls and,
    // for the customer "busy", refuses the first one of a task as a quota would: transiently.
    const scorerStore = await store(SCORER);
    const toolCard = toolCardOf({ name: SCORER, version: '1.0.0', purpose: 'local', owner: 'team' }, tools, '');
    const scorerRuntime = new AgentRuntime({
      card: scorerCard,
      planner: new PlaybookPlanner({
        score: {
          steps: [
            {
              id: 'score',
              description: 'score',
              target: { $case: 'tool', tool: { service: SCORER, tool: 'score' } },
              arguments: { customer: '${input.customer}' },
            },
          ],
        },
      }),
      store: scorerStore,
      log,
      maxInputBytes: SCORER_MAX_INPUT_BYTES,
      runner: new StepRunners({
        local: {
          service: SCORER,
          runner: new LocalToolRunner(
            toolCard,
            toolService(toolCard, tools, { store: scorerStore, service: SCORER }),
            log,
          ),
        },
      }),
      inventory: async () => inventoryFromCards([], [toolCard]),
    });
    const counting: Interceptor = async (ctx, next) => {
      if (ctx.method === 'SendTask') {
        const req = ctx.request as SendTaskRequest;
        const n = (sendTasks.get(parentTaskOf(req)) ?? 0) + 1;
        sendTasks.set(parentTaskOf(req), n);
        if (customerOf(req) === 'busy' && n === 1) throw new MeshError(Code.RESOURCE_EXHAUSTED, 'quota: try later');
      }
      await next();
    };
    const scorerAddress = await serve(
      SCORER,
      'scorer',
      'spiffe://{trust_domain}/ns/lending/sa/advisor',
      counting,
      scorerRuntime,
    );

    // The advisor: one agent step on the scorer, with a token exchanged from its caller's.
    await store(ADVISOR);
    const advisorTransport = await fx.transportFor('lending', 'advisor');
    const tokens = fx.tokenClient(ADVISOR);
    const agents = new ClientPool<typeof AgentServiceService>(
      { static: new Map([[SCORER, scorerAddress]]), discovery: () => undefined },
      (name, address) =>
        createClient(AgentServiceService, address, {
          credentials: advisorTransport.channelCredentials(idOf('lending', 'scorer')),
          metadataHooks: [tokens.metadataHook(name, [], { actForCaller: true })],
        }),
    );
    const advisorRuntime: AgentRuntime = new AgentRuntime({
      card: advisorCard,
      planner: new PlaybookPlanner({
        advise: {
          steps: [
            {
              id: 'score',
              description: 'ask the scorer',
              target: { $case: 'agent', agent: { agent: SCORER, skillId: 'score' } },
              arguments: { customer: '${input.customer}' },
            },
          ],
        },
      }),
      store: stores.at(-1)!,
      log,
      runner: new StepRunners({
        agent: new AgentStepRunner(agents.connect, (taskId) => advisorRuntime.authorityFor(taskId)),
      }),
      inventory: async () => inventoryFromCards([scorerCard], []),
    });
    const advisorAddress = await serve(
      ADVISOR,
      'advisor',
      'spiffe://{trust_domain}/ns/demo/sa/caller',
      (_ctx, next) => next(),
      advisorRuntime,
    );
    advisor = createClient(AgentServiceService, advisorAddress, {
      // Far beyond what a task here takes, even on a loaded machine: nothing here is about time.
      defaultDeadlineMs: 60_000,
      credentials: (await fx.transportFor('demo', 'caller')).channelCredentials(idOf('lending', 'advisor')),
      metadataHooks: [fx.tokenClient('demo/caller').metadataHook(ADVISOR, ['task.read', 'task.write'])],
    });
  });

  afterAll(async () => {
    advisor?.close();
    for (const s of servers) await s.shutdown({ graceMs: 200 });
    for (const s of stores) await s.close();
    rmSync(dir, { recursive: true, force: true });
    await fx.close();
  });

  /** Runs the advisor's task for `customer` to its end. */
  const advise = async (requestId: string, customer: string): Promise<Task> => {
    const { task } = await advisor.sendTask({
      requestId,
      skillId: 'advise',
      message: requestMessage({ customer }, undefined),
      configuration: { blocking: true, historyLength: 0, timeout: undefined },
    });
    return task!;
  };
  const statusText = (task: Task) =>
    task.status?.message?.parts.map((p) => (p.content?.$case === 'text' ? p.content.text : '')).join(' ');
  const attemptCodes = async (task: Task) =>
    (await advisor.explainTask({ taskId: task.id, maxDepth: 0 })).explanation!.execution[0]!.attempts.map(
      (a) => a.code,
    );

  test('the refused step is attempted once; the task fails with the refusal; the circuit stays closed', async () => {
    // Each of these is a message over the scorer's limit: five breaker failures in a row (the default
    // threshold) would open the advisor's circuit to the scorer, and the request below would fail fast.
    for (const n of [1, 2, 3, 4, 5]) {
      const task = await advise(`too-big-${n}`, 'C'.repeat(300));
      expect(task.status?.state).toBe(TaskState.TASK_STATE_FAILED);
      expect(statusText(task)).toMatch(
        new RegExp(`^step score failed: message: \\d+ bytes is over the ${SCORER_MAX_INPUT_BYTES}-byte limit$`),
      );
      expect(await attemptCodes(task)).toEqual(['RESOURCE_EXHAUSTED']);
      expect(sendTasks.get(task.id)).toBe(1);
    }
    // The scorer was healthy all along: the next request that fits is let through and answered.
    const fine = await advise('fits', 'C-1');
    expect(fine.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(sendTasks.get(fine.id)).toBe(1);
  });

  test('a refusal without the pushback trailer is retried as before', async () => {
    const task = await advise('busy', 'busy');
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(await attemptCodes(task)).toEqual(['RESOURCE_EXHAUSTED', 'OK']);
    expect(sendTasks.get(task.id)).toBe(2);
  });
});
