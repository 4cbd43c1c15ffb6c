// Agent steps over real gRPC servers: the advisor gives a sub-task to the scorer with a token
// exchanged from its caller's; the scorer runs it for that caller. The scorer's policy lets the
// advisor send and follow tasks but not read explanations, so the advisor's explanation carries a
// marked gap where the child's would be, and the task itself is unaffected.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentServiceService } from '../gen/agentmesh/v1/agent_service.js';
import { AgentCard } from '../gen/agentmesh/v1/card.js';
import { TaskState } from '../gen/agentmesh/v1/task.js';
import { ToolServiceService } from '../gen/agentmesh/v1/tool_service.js';
import { createClient, type MeshClient } from '../mesh/index.js';
import { requestMessage } from '../mesh/index.js';
import {
  AgentRuntime,
  AgentStepRunner,
  agentService,
  ClientPool,
  inventoryFromCards,
  PlaybookPlanner,
  StepRunners,
  toolCardOf,
  toolService,
  ToolStepRunner,
  type Playbook,
  type ToolSpec,
} from '../mesh/index.js';
import { parsePolicy } from '../mesh/security/policy.js';
import { securityInterceptor } from '../mesh/security/security-interceptor.js';
import { TokenVerifier } from '../mesh/security/token-verifier.js';
import { Code, createServer, type CallContext, type MeshServer } from '../mesh/index.js';
import { loadStateConfig, openStore, type Store } from '../mesh/index.js';
import { captureLogger } from './helpers/log-capture.js';
import { TRUST_DOMAIN } from './helpers/pki.js';
import { createSecureFixture, idOf, type SecureFixture } from './helpers/secure-mesh.js';

const TOOLS = 'banking/ledger';
const SCORER = 'lending/scorer';
const ADVISOR = 'lending/advisor';

let release: () => void = () => undefined;
const tools: ToolSpec[] = [
  {
    name: 'wait',
    description: 'Waits until released',
    argumentsSchema: { type: 'object' },
    idempotent: true,
    handler: (_args, ctx) =>
      new Promise((resolve, reject) => {
        release = () => resolve({ done: true });
        ctx.call.signal.addEventListener('abort', () => reject(ctx.call.signal.reason));
      }),
  },
  {
    name: 'get-customer',
    description: 'Reads a customer',
    argumentsSchema: { type: 'object', required: ['customer'] },
    idempotent: true,
    handler: async (args) => ({ customer: args.customer, income: 5200 }),
  },
];
const skill = (id: string) => ({
  id,
  name: id,
  description: id,
  inputSchema: { type: 'object', required: ['customer'], properties: { customer: { type: 'string' } } },
});
const scorerCard = AgentCard.fromPartial({
  name: SCORER,
  version: '1.0.0',
  purpose: 'Scores customers',
  owner: 'team',
  identity: idOf('lending', 'scorer'),
  skills: [skill('score'), skill('slow-score')],
});
const advisorCard = AgentCard.fromPartial({
  name: ADVISOR,
  version: '1.0.0',
  purpose: 'Advises',
  owner: 'team',
  identity: idOf('lending', 'advisor'),
  skills: [skill('advise'), skill('advise-slowly')],
});
const toolStep = { $case: 'tool' as const, tool: { service: TOOLS, tool: 'get-customer' } };
const scorerPlaybooks: Record<string, Playbook> = {
  score: {
    steps: [{ id: 'fetch', description: 'read', target: toolStep, arguments: { customer: '${input.customer}' } }],
  },
  'slow-score': {
    steps: [
      {
        id: 'wait',
        description: 'wait',
        target: { $case: 'tool', tool: { service: TOOLS, tool: 'wait' } },
        arguments: {},
      },
    ],
  },
};
const advisorPlaybooks: Record<string, Playbook> = {
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
  'advise-slowly': {
    steps: [
      {
        id: 'score',
        description: 'ask the scorer',
        target: { $case: 'agent', agent: { agent: SCORER, skillId: 'slow-score' } },
        arguments: { customer: '${input.customer}' },
      },
    ],
  },
};

describe('agent steps: a sub-task on another agent, for the original caller', () => {
  let fx: SecureFixture;
  let dir: string;
  const stores: Store[] = [];
  const servers: MeshServer[] = [];
  let advisor: MeshClient<typeof AgentServiceService>;
  let scorerStore: Store;

  beforeAll(async () => {
    fx = await createSecureFixture([
      { client_id: 'demo/caller', scopes: ['task.read', 'task.write'], audiences: [ADVISOR] },
      {
        client_id: ADVISOR,
        scopes: ['tools.invoke', 'task.read', 'task.write'],
        audiences: [SCORER],
        token_exchange: true,
      },
      { client_id: SCORER, scopes: ['tools.invoke'], audiences: [TOOLS] },
    ]);
    dir = mkdtempSync(join(tmpdir(), 'collab-'));
    const log = captureLogger('collab').log;
    const verifier = (audience: string) =>
      new TokenVerifier({ issuer: fx.auth.issuer, audience, jwksUrl: fx.auth.jwksUrl, ca: fx.pki.ca.certPem });
    const store = async (name: string) => {
      const s = await openStore({
        service: name,
        config: loadStateConfig({ AGENTMESH_DATA_DIR: join(dir, name.replace('/', '-')) }),
      });
      stores.push(s);
      return s;
    };
    const serve = async (name: string, ns: string, sa: string, rules: object[], add: (s: MeshServer) => MeshServer) => {
      const transport = await fx.transportFor(ns, sa);
      const server = add(
        createServer({ logger: log }).use(
          securityInterceptor({
            transport,
            verifier: verifier(name),
            policy: parsePolicy({ service: name, rules }, TRUST_DOMAIN),
            log,
          }),
        ),
      );
      servers.push(server);
      return { transport, address: `127.0.0.1:${await server.listen('127.0.0.1:0', transport.serverCredentials())}` };
    };
    const choice = (name: string, address: string) => ({
      name,
      version: '1.0.0',
      address,
      reasons: ['the test wired it'],
      score: 1,
      alternatives: [],
    });

    const toolCard = toolCardOf(
      { name: TOOLS, version: '1.0.0', purpose: 'Ledger', owner: 'team' },
      tools,
      idOf('banking', 'ledger'),
    );
    const toolStore = await store(TOOLS);
    const tool = await serve(
      TOOLS,
      'banking',
      'ledger',
      [{ methods: ['*'], callers: ['spiffe://{trust_domain}/ns/lending/sa/scorer'], scopes: ['tools.invoke'] }],
      (s) => s.add(ToolServiceService, toolService(toolCard, tools, { store: toolStore, service: TOOLS })),
    );

    // The scorer: the advisor may send and follow tasks, but not read explanations.
    scorerStore = await store(SCORER);
    const scorerTransport = await fx.transportFor('lending', 'scorer');
    const toolClient = createClient(ToolServiceService, tool.address, {
      credentials: scorerTransport.channelCredentials(idOf('banking', 'ledger')),
      metadataHooks: [fx.tokenClient(SCORER).metadataHook(TOOLS, ['tools.invoke'])],
    });
    const scorerRuntime = new AgentRuntime({
      card: scorerCard,
      planner: new PlaybookPlanner(scorerPlaybooks),
      store: scorerStore,
      log,
      runner: new StepRunners({
        tool: new ToolStepRunner(SCORER, async (name) => ({ client: toolClient, choice: choice(name, tool.address) })),
      }),
      inventory: async () => inventoryFromCards([], [toolCard]),
    });
    const advisorId = 'spiffe://{trust_domain}/ns/lending/sa/advisor';
    const scorer = await serve(
      SCORER,
      'lending',
      'scorer',
      [
        {
          methods: [
            'agentmesh.v1.AgentService/SendTask',
            'agentmesh.v1.AgentService/SubscribeTask',
            'agentmesh.v1.AgentService/GetTask',
            'agentmesh.v1.AgentService/CancelTask',
          ],
          callers: [advisorId],
          scopes: ['task.write'],
        },
      ],
      (s) => s.add(AgentServiceService, agentService(scorerCard, scorerRuntime, scorerStore)),
    );

    // The advisor calls the scorer for its caller: the token is exchanged per call.
    const advisorStore = await store(ADVISOR);
    const advisorTransport = await fx.transportFor('lending', 'advisor');
    const tokens = fx.tokenClient(ADVISOR);
    const agents = new ClientPool<typeof AgentServiceService>(
      { static: new Map([[SCORER, scorer.address]]), discovery: () => undefined },
      (name, address) =>
        createClient(AgentServiceService, address, {
          credentials: advisorTransport.channelCredentials(idOf('lending', 'scorer')),
          metadataHooks: [tokens.metadataHook(name, [], { actForCaller: true })],
        }),
    );
    const advisorRuntime: AgentRuntime = new AgentRuntime({
      card: advisorCard,
      planner: new PlaybookPlanner(advisorPlaybooks),
      store: advisorStore,
      log,
      runner: new StepRunners({
        agent: new AgentStepRunner(agents.connect, (taskId) => advisorRuntime.authorityFor(taskId)),
      }),
      inventory: async () => inventoryFromCards([scorerCard], []),
    });
    const explainChild = async (ref: { agent: string; taskId: string }, maxDepth: number, ctx: CallContext) =>
      (await (await agents.connect(ref.agent)).client.explainTask({ taskId: ref.taskId, maxDepth }, { parent: ctx }))
        .explanation!;
    const advisorServer = await serve(
      ADVISOR,
      'lending',
      'advisor',
      [
        {
          methods: ['agentmesh.v1.AgentService/*'],
          callers: ['spiffe://{trust_domain}/ns/demo/sa/caller'],
          scopes: ['task.write'],
        },
      ],
      (s) => s.add(AgentServiceService, agentService(advisorCard, advisorRuntime, advisorStore, explainChild)),
    );
    advisor = createClient(AgentServiceService, advisorServer.address, {
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

  test('the child task runs for the caller; its output is the step output; the refused explanation is a marked gap', async () => {
    const { task } = await advisor.sendTask({
      requestId: 'collab-1',
      skillId: 'advise',
      message: requestMessage({ customer: 'C-9' }, undefined),
      configuration: { blocking: true, historyLength: 0, timeout: undefined },
    });
    expect(task?.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    const result = task!.artifacts[0]!.parts[0]!.content;
    expect(result?.$case === 'data' && result.data).toEqual({ customer: 'C-9', income: 5200 });

    const [child] = await scorerStore.tasks.list({});
    // Token exchange: the scorer saw the original caller as subject and the advisor acting.
    expect(child!.data).toMatchObject({ subject: 'demo/caller', actor: ADVISOR, requestId: `${task!.id}:score:1` });

    const { explanation } = await advisor.explainTask({ taskId: task!.id, maxDepth: 0 });
    expect(explanation!.execution[0]!.attempts[0]!.childTask).toEqual({ agent: SCORER, taskId: child!.id });
    expect(explanation!.children).toEqual([
      {
        stepId: 'score',
        task: { agent: SCORER, taskId: child!.id },
        result: { $case: 'gap', gap: { code: 'PERMISSION_DENIED', reason: expect.any(String) } },
      },
    ]);
    // One level only: no child explanations are fetched.
    const shallow = await advisor.explainTask({ taskId: task!.id, maxDepth: 1 });
    expect(shallow.explanation!.children).toEqual([]);
    await expect(advisor.explainTask({ taskId: task!.id, maxDepth: 99 })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
    });
  });

  test('canceling the task cancels the child task on the collaborating agent', async () => {
    const { task } = await advisor.sendTask({
      requestId: 'collab-slow',
      skillId: 'advise-slowly',
      message: requestMessage({ customer: 'C-8' }, undefined),
      configuration: { blocking: false, historyLength: 0, timeout: undefined },
    });
    const childOf = async () =>
      (await scorerStore.tasks.list({})).find(
        (t) => (t.data as { requestId?: string }).requestId === `${task!.id}:score:1`,
      );
    // The child task runs on the scorer's side as fast as the machine lets it: polled (jest's timeout
    // is the bound), so that the cancellation finds it working.
    while ((await childOf())?.state !== TaskState.TASK_STATE_WORKING) await new Promise((r) => setTimeout(r, 20));
    const { task: canceled } = await advisor.cancelTask({ taskId: task!.id, reason: 'no longer needed' });
    expect(canceled?.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    let child = await childOf();
    while (child?.state !== TaskState.TASK_STATE_CANCELED) {
      await new Promise((r) => setTimeout(r, 20));
      child = await childOf();
    }
    expect(child?.state).toBe(TaskState.TASK_STATE_CANCELED);
    release();
  });
});
