// Another framework's agent calls an agentmesh agent over A2A v1.0: the official A2A SDK's gRPC
// client (@a2a-js/sdk ClientFactory + GrpcTransportFactory) against the loan orchestrator of the
// mesh `npm start` runs, over mTLS with the mesh CA and the client certificate of mesh.json, with
// people's tokens from the mesh's token endpoint (the CLI's dev login). Every card, task and
// stream event it answers is checked against the A2A spec's rules (test/helpers/a2a-conformance.ts).
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { PeerCertificate } from 'node:tls';
import { join } from 'node:path';
import {
  credentials,
  makeGenericClientConstructor,
  Metadata,
  status as grpcStatus,
  type CallOptions,
  type ChannelCredentials,
  type ServiceError,
} from '@grpc/grpc-js';
import {
  Role,
  TaskState,
  type AgentCard,
  type ListTasksRequest,
  type Message,
  type Part,
  type SendMessageConfiguration,
  type SendMessageRequest,
  type StreamResponse,
  type Task,
} from '@a2a-js/sdk';
import { ClientFactory, DefaultAgentCardResolver, type Client } from '@a2a-js/sdk/client';
import { GrpcTransportFactory } from '@a2a-js/sdk/client/grpc';
import { PushNotificationNotSupportedError } from '@a2a-js/sdk/errors';
import {
  GrpcContentTypeNotSupportedError,
  GrpcPushNotificationNotSupportedError,
  GrpcRequestMalformedError,
  GrpcTaskNotCancelableError,
  GrpcTaskNotFoundError,
  GrpcUnsupportedOperationError,
  type GrpcA2AError,
} from '@a2a-js/sdk/errors/grpc';
import { A2AService } from '@a2a-js/sdk/server/grpc';
import { spiffeUrisOf, TokenClient } from '../mesh/index.js';
import {
  checkA2aError,
  checkAgentCard,
  checkListTasks,
  checkTask,
  checkTaskStream,
  isInterruptedState,
  isTerminalState,
} from './helpers/a2a-conformance.js';
import { httpsFetch } from './helpers/https-fetch.js';
import { startLocalMesh, type LocalMesh } from './helpers/local-mesh.js';

const ORCHESTRATOR = 'lending/loan-orchestrator';
const AUDIT = ['data', 'lending-loan-orchestrator', 'audit.jsonl'];
/** The extension of the extended card that carries the agentmesh card (mesh/runtime/a2a/a2a-card.ts). */
const AGENTMESH_CARD_EXTENSION = 'urn:agentmesh:extension:agent-card:v1';

interface AuditRecord {
  kind: string;
  method?: string;
  subject?: string;
  outcome: string;
  task_id?: string;
}
interface MeshExample {
  title: string;
  text?: string;
  input?: Record<string, unknown>;
}

const part = {
  text: (value: string): Part => ({
    content: { $case: 'text', value },
    metadata: undefined,
    filename: '',
    mediaType: 'text/plain',
  }),
  data: (value: Record<string, unknown>): Part => ({
    content: { $case: 'data', value },
    metadata: undefined,
    filename: '',
    mediaType: 'application/json',
  }),
};

/** A user message with a fresh message id (the request's idempotency key). */
const userMessage = (parts: Part[], ids: { taskId?: string; contextId?: string } = {}): Message => ({
  messageId: randomUUID(),
  contextId: ids.contextId ?? '',
  taskId: ids.taskId ?? '',
  role: Role.ROLE_USER,
  parts,
  metadata: undefined,
  extensions: [],
  referenceTaskIds: [],
});

const sendRequest = (
  message: Message,
  configuration: Partial<SendMessageConfiguration> = {},
  metadata?: Record<string, unknown>,
): SendMessageRequest => ({
  tenant: '',
  message,
  configuration: {
    acceptedOutputModes: [],
    taskPushNotificationConfig: undefined,
    returnImmediately: false,
    ...configuration,
  },
  metadata,
});

/** A ListTasks request: every filter off unless given. */
const listRequest = (o: Partial<ListTasksRequest> = {}): ListTasksRequest => ({
  tenant: '',
  contextId: '',
  status: TaskState.TASK_STATE_UNSPECIFIED,
  pageToken: '',
  statusTimestampAfter: undefined,
  ...o,
});

/** SendMessage answers a Task or a Message; this agent always answers a Task. */
function asTask(r: Task | Message): Task {
  if (!('status' in r)) throw new Error(`SendMessage answered a Message, not a Task: ${JSON.stringify(r)}`);
  checkTask(r);
  return r;
}

/** Every event of a stream, until the server ends it. */
async function drain(stream: AsyncIterable<StreamResponse>): Promise<StreamResponse[]> {
  const events: StreamResponse[] = [];
  for await (const e of stream) events.push(e);
  return events;
}

/** The rejection of a call (failing the test when it succeeds). */
async function refusal(call: Promise<unknown>): Promise<GrpcA2AError> {
  try {
    await call;
  } catch (err) {
    return err as GrpcA2AError;
  }
  throw new Error('the call succeeded; it should have been refused');
}

describe('the official A2A SDK gRPC client calls an agentmesh agent of the local mesh', () => {
  let home: string;
  let mesh: LocalMesh;
  let address: string;
  let channel: ChannelCredentials;
  let tokens: TokenClient;
  /** The extended card, fetched once with GetExtendedAgentCard (the bootstrap every client is built from). */
  let extended: AgentCard;
  const clients: Client[] = [];

  const service = () => mesh.file.services.find((s) => s.name === ORCHESTRATOR)!;
  /** The server must prove the orchestrator's SPIFFE ID, not just hold any certificate of the mesh CA. */
  const serverIdentity = (_host: string, cert: PeerCertificate) => {
    const ids = spiffeUrisOf(cert);
    return ids.length === 1 && ids[0] === service().spiffeId
      ? undefined
      : new Error(`server identity ${ids.join(',') || '(none)'} is not ${service().spiffeId}`);
  };
  const audit = (): AuditRecord[] =>
    readFileSync(join(home, ...AUDIT), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditRecord);

  /** Call credentials adding a person's bearer token to every call, from the token endpoint as the CLI's dev login gets it. */
  const tokenOf = (user: string) =>
    credentials.createFromMetadataGenerator((_params, callback) => {
      tokens.tokenForUser(user, ORCHESTRATOR).then(
        (token) => {
          const m = new Metadata();
          m.set('authorization', `Bearer ${token}`);
          callback(null, m);
        },
        (err: Error) => callback(err),
      );
    });

  /** An SDK client factory over mTLS, calling as `user` (without one: no token at all). */
  const factoryFor = (user?: string) =>
    new ClientFactory({
      transports: [
        new GrpcTransportFactory({
          grpcChannelCredentials: channel,
          grpcCallOptions: user ? { credentials: tokenOf(user) } : {},
        }),
      ],
    });
  const track = (c: Client) => (clients.push(c), c);
  /** An SDK client built from the agent's extended card, calling as `user`. */
  const clientFor = async (user?: string) => track(await factoryFor(user).createFromAgentCard(extended));

  /** The agentmesh card the extended card carries: the skill's examples with their JSON inputs. */
  const example = (n: number) => {
    const params = extended.capabilities!.extensions.find((e) => e.uri === AGENTMESH_CARD_EXTENSION)!.params as {
      skills: { id: string; examples: MeshExample[] }[];
    };
    const skill = params.skills[0]!;
    const e = skill.examples[n - 1]!;
    // The A2A card shows each example as its text.
    expect(extended.skills[0]!.examples[n - 1]).toBe(e.text);
    return { skill: skill.id, message: () => userMessage([part.text(e.text!), part.data(e.input!)]) };
  };
  /** Sends example `n` and waits (blocking SendMessage) for it to end or wait for a person. */
  const sendExample = async (client: Client, n: number) => {
    const ex = example(n);
    return asTask(await client.sendMessage(sendRequest(ex.message(), {}, { skillId: ex.skill })));
  };

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'agentmesh-a2a-sdk-'));
    mesh = await startLocalMesh(home);
    const f = mesh.file;
    address = service().address;
    const ca = readFileSync(f.ca);
    channel = credentials.createSsl(ca, readFileSync(f.client.key), readFileSync(f.client.cert), {
      checkServerIdentity: serverIdentity,
    });
    tokens = new TokenClient({
      tokenUrl: f.tokenUrl,
      clientId: f.client.clientId,
      auth: { method: 'client_secret_basic', secret: f.client.clientSecret },
      ca: ca.toString(),
    });
    // Bootstrap without the HTTPS card: a card naming only the gRPC interface of mesh.json.
    const bootstrap = {
      name: ORCHESTRATOR,
      description: '',
      supportedInterfaces: [{ url: address, protocolBinding: 'GRPC', tenant: '', protocolVersion: '1.0' }],
      version: '',
      capabilities: { streaming: true, pushNotifications: false, extensions: [], extendedAgentCard: true },
      securitySchemes: {},
      securityRequirements: [],
      defaultInputModes: [],
      defaultOutputModes: [],
      skills: [],
      signatures: [],
      provider: undefined,
    } satisfies AgentCard;
    extended = await track(await factoryFor('ada').createFromAgentCard(bootstrap)).getAgentCard();
  }, 120_000);

  afterAll(async () => {
    for (const c of clients) (c.transport as unknown as { grpcClient?: { close(): void } }).grpcClient?.close();
    await mesh?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  test('the extended card (GetExtendedAgentCard) is a conforming A2A card: the gRPC interface, OAuth2 and mTLS, no push notifications', () => {
    checkAgentCard(extended, 'extended card');
    expect(extended.name).toBe(ORCHESTRATOR);
    expect(extended.supportedInterfaces).toEqual([
      { url: address, protocolBinding: 'GRPC', tenant: '', protocolVersion: '1.0' },
    ]);
    expect(extended.capabilities).toMatchObject({ streaming: true, pushNotifications: false, extendedAgentCard: true });
    expect(Object.keys(extended.securitySchemes).sort()).toEqual(['mtls', 'oauth2']);
    const oauth2 = extended.securitySchemes.oauth2!.scheme;
    expect(oauth2?.$case === 'oauth2SecurityScheme' && oauth2.value.flows?.flow).toMatchObject({
      $case: 'clientCredentials',
      value: { tokenUrl: mesh.file.tokenUrl },
    });
    expect(extended.skills.map((s) => s.id)).toEqual(['prequalify-loan']);
  });

  test('discovers the card over HTTPS with a client certificate (mesh.json a2aCard) and calls the agent from it', async () => {
    const url = (service() as { a2aCard?: string }).a2aCard;
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/\.well-known\/agent-card\.json$/);
    const ca = readFileSync(mesh.file.ca);
    const [key, cert] = [readFileSync(mesh.file.client.key), readFileSync(mesh.file.client.cert)];
    // fetch over node:https: the mesh CA, the client certificate of mesh.json, the agent's SPIFFE ID.
    const fetchImpl = httpsFetch({ ca, key, cert, checkServerIdentity: serverIdentity });
    const card = await new DefaultAgentCardResolver({ fetchImpl }).resolve(url!, '');
    checkAgentCard(card, 'public card');
    expect(card.name).toBe(ORCHESTRATOR);
    expect(card.supportedInterfaces[0]).toMatchObject({
      url: address,
      protocolBinding: 'GRPC',
      protocolVersion: '1.0',
    });
    expect(card.capabilities).toMatchObject({ pushNotifications: false, extendedAgentCard: true });
    // The public card is the extended one without the agentmesh card.
    expect(card.capabilities!.extensions).toEqual([]);
    const client = track(await factoryFor('ada').createFromAgentCard(card));
    const ext = await client.getAgentCard();
    expect(ext).toEqual(extended);
    const missing = await refusal(client.getTask({ tenant: '', id: randomUUID() }));
    expect(missing).toBeInstanceOf(GrpcTaskNotFoundError);
  });

  test('example 1 (blocking SendMessage) completes: the task, its pre-qualified result and its history; the message id makes a retry safe', async () => {
    const ada = await clientFor('ada');
    const ex = example(1);
    const message = ex.message();
    const task = asTask(await ada.sendMessage(sendRequest(message, {}, { skillId: ex.skill })));
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(task.artifacts).toHaveLength(1);
    const result = task.artifacts[0]!.parts[0]!.content;
    expect(result?.$case === 'data' && result.value).toMatchObject({ decision: 'pre-qualified' });
    expect(task.history[0]).toMatchObject({
      messageId: message.messageId,
      role: Role.ROLE_USER,
      taskId: task.id,
      contextId: task.contextId,
      parts: message.parts,
    });
    expect(task.metadata?.agentmesh).toMatchObject({ agent: ORCHESTRATOR, skillId: 'prequalify-loan' });
    // The agent's audit trail has the A2A call, its subject and the task it started (the call ends once it is durable).
    expect(audit()).toContainEqual(
      expect.objectContaining({
        kind: 'call',
        method: 'lf.a2a.v1.A2AService/SendMessage',
        subject: 'ada',
        outcome: 'OK',
        task_id: task.id,
      }),
    );

    // The same message again (a client's retry) is the same task, not a second loan application.
    const again = asTask(await ada.sendMessage(sendRequest(message, {}, { skillId: ex.skill })));
    expect(again.id).toBe(task.id);
    // A message to a task that has ended: UnsupportedOperationError (TCK CORE-SEND-002).
    const late = await refusal(
      ada.sendMessage(sendRequest(userMessage([part.text('one more thing')], { taskId: task.id }))),
    );
    expect(late).toBeInstanceOf(GrpcUnsupportedOperationError);
    checkA2aError(late, 'UNSUPPORTED_OPERATION');
  });

  test('a part of a media type the card does not list is ContentTypeNotSupported and starts nothing; return_immediately answers with the submitted task', async () => {
    const ada = await clientFor('ada');
    const ex = example(1);
    const count = async () => (await ada.listTasks(listRequest({ pageSize: 1 }))).totalSize;
    const before = await count();
    const pdf: Part = {
      content: { $case: 'raw', value: Buffer.from('%PDF-1.7') },
      metadata: undefined,
      filename: 'payslip.pdf',
      mediaType: 'application/pdf',
    };
    const refused = await refusal(
      ada.sendMessage(sendRequest(userMessage([...ex.message().parts, pdf]), {}, { skillId: ex.skill })),
    );
    expect(refused).toBeInstanceOf(GrpcContentTypeNotSupportedError);
    checkA2aError(refused, 'CONTENT_TYPE_NOT_SUPPORTED');
    expect(await count()).toBe(before);

    // return_immediately (TCK CORE-EXECUTION-MODE-002): the task as created, before it runs.
    const message = ex.message();
    const submitted = asTask(
      await ada.sendMessage(sendRequest(message, { returnImmediately: true }, { skillId: ex.skill })),
    );
    expect(submitted.status).toMatchObject({ state: TaskState.TASK_STATE_SUBMITTED, timestamp: expect.any(String) });
    // The same message again, blocking: the same task, followed to its end.
    const done = asTask(await ada.sendMessage(sendRequest(message, {}, { skillId: ex.skill })));
    expect(done).toMatchObject({ id: submitted.id, status: { state: TaskState.TASK_STATE_COMPLETED } });
  });

  test('example 2 waits for a loan approver (INPUT_REQUIRED); the requester may not answer it (four eyes); an approver answers with SendMessage(task_id) and it completes', async () => {
    const [ada, carol] = [await clientFor('ada'), await clientFor('carol')];
    const waiting = await sendExample(ada, 2);
    expect(waiting.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    expect(isInterruptedState(waiting.status?.state)).toBe(true);
    const question = waiting.status!.message!;
    expect(question.role).toBe(Role.ROLE_AGENT);
    expect(question.parts.map((p) => (p.content?.$case === 'text' ? p.content.value : '')).join(' ')).toMatch(
      /Approve a loan of 47058.82 EUR for customer C-1002/,
    );
    expect(waiting.metadata?.agentmesh).toMatchObject({
      inputRequest: expect.objectContaining({ stepId: 'approval' }),
    });

    // ada asked for the loan: she may not approve it, and her attempt changes nothing.
    const own = await refusal(
      ada.sendMessage(sendRequest(userMessage([part.text('approve')], { taskId: waiting.id }))),
    );
    expect(own.status).toBe(grpcStatus.PERMISSION_DENIED);
    expect(own.message).toMatch(/four eyes/);
    const unchanged = await ada.getTask({ tenant: '', id: waiting.id });
    checkTask(unchanged);
    expect(unchanged.status).toEqual(waiting.status);
    expect(unchanged.history).toEqual(waiting.history);

    // An answer naming another context is malformed (a message's task and context must match).
    const astray = await refusal(
      carol.sendMessage(
        sendRequest(userMessage([part.text('approve')], { taskId: waiting.id, contextId: randomUUID() })),
      ),
    );
    expect(astray).toBeInstanceOf(GrpcRequestMalformedError);
    checkA2aError(astray, 'INVALID_PARAMS');

    // carol, a loan approver, answers the task's question; the blocking call follows it to its end.
    const answer = userMessage([part.text('approve')], { taskId: waiting.id, contextId: waiting.contextId });
    const done = asTask(await carol.sendMessage(sendRequest(answer)));
    expect(done.id).toBe(waiting.id);
    expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    const decided = done.artifacts[0]!.parts[0]!.content;
    expect(decided?.$case === 'data' && decided.value).toMatchObject({
      decision: 'pre-qualified',
      reasons: expect.arrayContaining(['approved by the reviewer']),
    });
    const seen = await ada.getTask({ tenant: '', id: waiting.id });
    checkTask(seen);
    expect(seen.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
  });

  test('SendStreamingMessage: the Task first, then its status updates SUBMITTED → WORKING → COMPLETED with the artifact before the final status; the stream ends there', async () => {
    const ada = await clientFor('ada');
    const ex = example(1);
    const events = await drain(ada.sendMessageStream(sendRequest(ex.message(), {}, { skillId: ex.skill })));
    checkTaskStream(events);
    const kinds = events.map((e) => e.payload?.$case);
    expect(kinds[0]).toBe('task');
    const first = events[0]!.payload!.value as Task;
    expect(first.status?.state).toBe(TaskState.TASK_STATE_SUBMITTED);
    // Every status says when it was recorded, the first one too (ListTasks orders by it).
    for (const e of events)
      if (e.payload?.$case === 'task' || e.payload?.$case === 'statusUpdate')
        expect(e.payload.value.status?.timestamp).toEqual(expect.any(String));
    const states = events.flatMap((e) => (e.payload?.$case === 'statusUpdate' ? [e.payload.value.status!.state] : []));
    // Each state at most once in a row, in lifecycle order.
    const distinct = states.filter((s, i) => s !== states[i - 1]);
    expect(distinct.at(-1)).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(distinct).toContain(TaskState.TASK_STATE_WORKING);
    const order = [TaskState.TASK_STATE_SUBMITTED, TaskState.TASK_STATE_WORKING, TaskState.TASK_STATE_COMPLETED];
    expect(distinct.map((s) => order.indexOf(s))).toEqual([...distinct.map((s) => order.indexOf(s))].sort());
    expect(distinct.every((s) => order.includes(s))).toBe(true);
    // The artifact comes before the final status, which is the last event.
    const artifactAt = kinds.indexOf('artifactUpdate');
    expect(artifactAt).toBeGreaterThan(0);
    expect(artifactAt).toBeLessThan(kinds.length - 1);
    const last = events.at(-1)!.payload!;
    expect(last.$case === 'statusUpdate' && isTerminalState(last.value.status?.state)).toBe(true);
    const artifact = events[artifactAt]!.payload!;
    const content = artifact.$case === 'artifactUpdate' ? artifact.value.artifact?.parts[0]?.content : undefined;
    expect(content?.$case === 'data' && content.value).toMatchObject({ decision: 'pre-qualified' });

    // The task as GetTask shows it afterwards: the stream's final state.
    const after = await ada.getTask({ tenant: '', id: first.id });
    checkTask(after);
    expect(after.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
  });

  test('ListTasks shows the caller her own tasks only, page by page, newest first; GetTask honours history_length', async () => {
    const [ada, mallory] = [await clientFor('ada'), await clientFor('mallory')];
    const mine = [await sendExample(ada, 1), await sendExample(ada, 1)];
    const listed: Task[] = [];
    let pageToken = '';
    let pages = 0;
    do {
      const page = await ada.listTasks(listRequest({ pageSize: 1, pageToken, includeArtifacts: false }));
      checkListTasks(page, false);
      expect(page.tasks).toHaveLength(1);
      expect(page.pageSize).toBe(1);
      listed.push(...page.tasks);
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken && pages < 100);
    expect(pageToken).toBe('');
    expect(listed.length).toBe(pages);
    expect(new Set(listed.map((t) => t.id)).size).toBe(listed.length);
    expect(listed.map((t) => t.id)).toEqual(expect.arrayContaining(mine.map((t) => t.id)));
    expect(listed.every((t) => t.metadata?.agentmesh?.agent === ORCHESTRATOR)).toBe(true);

    const withArtifacts = await ada.listTasks(
      listRequest({ contextId: mine[0]!.contextId, status: TaskState.TASK_STATE_COMPLETED, includeArtifacts: true }),
    );
    checkListTasks(withArtifacts, true);
    expect(withArtifacts.tasks.map((t) => t.id)).toEqual([mine[0]!.id]);
    expect(withArtifacts.tasks[0]!.artifacts).toHaveLength(1);

    // Another person sees none of them.
    const theirs = await mallory.listTasks(listRequest());
    checkListTasks(theirs, false);
    expect(theirs.tasks.map((t) => t.id)).not.toEqual(expect.arrayContaining([mine[0]!.id]));

    const id = mine[0]!.id;
    const all = await ada.getTask({ tenant: '', id });
    expect(all.history.length).toBeGreaterThan(0);
    expect((await ada.getTask({ tenant: '', id, historyLength: 0 })).history).toEqual([]);
    expect((await ada.getTask({ tenant: '', id, historyLength: 1 })).history).toEqual(all.history.slice(-1));
  });

  test('CancelTask on a task waiting for approval: CANCELED, followers see it end; cancelling again is TaskNotCancelable, following it UnsupportedOperation', async () => {
    const ada = await clientFor('ada');
    const waiting = await sendExample(ada, 2);
    expect(waiting.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);

    // Two followers (SubscribeToTask) before cancelling: each gets the current Task first (TCK STREAM-SUB-001).
    const followers = [0, 1].map(() => ada.resubscribeTask({ tenant: '', id: waiting.id })[Symbol.asyncIterator]());
    const heads = await Promise.all(followers.map((f) => f.next()));
    for (const h of heads) expect(h.value?.payload?.$case).toBe('task');

    const canceled = await ada.cancelTask({ tenant: '', id: waiting.id, metadata: { reason: 'withdrawn' } });
    checkTask(canceled);
    expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    const streams = await Promise.all(
      followers.map(async (f, i) => {
        const events = [heads[i]!.value!];
        for (let n = await f.next(); !n.done; n = await f.next()) events.push(n.value);
        return events;
      }),
    );
    for (const events of streams) {
      checkTaskStream(events, 'SubscribeToTask');
      const last = events.at(-1)?.payload;
      expect(last?.$case === 'statusUpdate' && last.value.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    }
    // Every follower gets the same events in the same order (TCK STREAM-ORDER-002/003).
    expect(streams[1]).toEqual(streams[0]);

    const again = await refusal(ada.cancelTask({ tenant: '', id: waiting.id, metadata: undefined }));
    expect(again).toBeInstanceOf(GrpcTaskNotCancelableError);
    checkA2aError(again, 'TASK_NOT_CANCELABLE');
    // Nothing to follow on a task that has ended (TCK STREAM-SUB-003).
    const ended = await refusal(drain(ada.resubscribeTask({ tenant: '', id: waiting.id })));
    expect(ended).toBeInstanceOf(GrpcUnsupportedOperationError);
    checkA2aError(ended, 'UNSUPPORTED_OPERATION');
    expect((await ada.getTask({ tenant: '', id: waiting.id })).status?.state).toBe(TaskState.TASK_STATE_CANCELED);
  });

  test('without a token: UNAUTHENTICATED, audited as an auth_failure of lf.a2a.v1.A2AService, and no task was created', async () => {
    const anonymous = await clientFor();
    const before = audit().length;
    const ex = example(1);
    const refused = await refusal(anonymous.sendMessage(sendRequest(ex.message(), {}, { skillId: ex.skill })));
    expect(refused.status).toBe(grpcStatus.UNAUTHENTICATED);
    expect(refused.message).toMatch(/missing bearer access token/);
    const listed = await refusal(anonymous.listTasks(listRequest()));
    expect(listed.status).toBe(grpcStatus.UNAUTHENTICATED);
    // The extended card is for authenticated callers only (TCK CARD-EXT-001).
    const card = await refusal(anonymous.getAgentCard());
    expect(card.status).toBe(grpcStatus.UNAUTHENTICATED);

    const added = audit().slice(before);
    expect(added).toEqual([
      expect.objectContaining({
        kind: 'auth_failure',
        method: 'lf.a2a.v1.A2AService/SendMessage',
        outcome: 'UNAUTHENTICATED',
      }),
      expect.objectContaining({
        kind: 'auth_failure',
        method: 'lf.a2a.v1.A2AService/ListTasks',
        outcome: 'UNAUTHENTICATED',
      }),
      expect.objectContaining({
        kind: 'auth_failure',
        method: 'lf.a2a.v1.A2AService/GetExtendedAgentCard',
        outcome: 'UNAUTHENTICATED',
      }),
    ]);
    // The handler never ran: only the refusals, no call record and no task (a task's call names it, see example 1).
    expect(added.some((a) => a.task_id)).toBe(false);
  });

  test("another person's task does not exist for them: GetTask, CancelTask, SubscribeToTask and answering it are TASK_NOT_FOUND, as for a task that never existed", async () => {
    const [ada, mallory] = [await clientFor('ada'), await clientFor('mallory')];
    const waiting = await sendExample(ada, 2);
    expect(waiting.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    for (const id of [waiting.id, randomUUID()]) {
      const refusals = [
        await refusal(mallory.getTask({ tenant: '', id })),
        await refusal(mallory.cancelTask({ tenant: '', id, metadata: undefined })),
        await refusal(drain(mallory.resubscribeTask({ tenant: '', id }))),
        await refusal(mallory.sendMessage(sendRequest(userMessage([part.text('approve')], { taskId: id })))),
      ];
      for (const r of refusals) {
        expect(r).toBeInstanceOf(GrpcTaskNotFoundError);
        expect(checkA2aError(r, 'TASK_NOT_FOUND').code).toBe(grpcStatus.NOT_FOUND);
      }
    }
    // Still ada's, still waiting.
    const still = await ada.getTask({ tenant: '', id: waiting.id });
    expect(still.status).toEqual(waiting.status);
    await ada.cancelTask({ tenant: '', id: waiting.id, metadata: undefined });
  });

  test('push notifications are not supported: the card says so, the SDK refuses locally, and the agent answers PUSH_NOTIFICATION_NOT_SUPPORTED', async () => {
    expect(extended.capabilities?.pushNotifications).toBe(false);
    const ada = await clientFor('ada');
    const config = {
      tenant: '',
      id: '',
      taskId: randomUUID(),
      url: 'https://hooks.example.com/a2a',
      token: '',
      authentication: undefined,
    };
    // The SDK trusts the card and does not even ask.
    await expect(async () => ada.createTaskPushNotificationConfig(config)).rejects.toThrow(
      PushNotificationNotSupportedError,
    );
    // Asked anyway (the SDK's transport, with the version header the client would add), the agent refuses each RPC.
    const options = { serviceParameters: { 'a2a-version': '1.0' } };
    const t = ada.transport;
    const ref = { tenant: '', taskId: config.taskId, id: 'c1' };
    const refusals = [
      await refusal(t.createTaskPushNotificationConfig(config, options)),
      await refusal(t.getTaskPushNotificationConfig(ref, options)),
      await refusal(
        t.listTaskPushNotificationConfig({ tenant: '', taskId: config.taskId, pageSize: 0, pageToken: '' }, options),
      ),
      await refusal(t.deleteTaskPushNotificationConfig(ref, options)),
      // A SendMessage asking for push notifications is refused too, before any task starts.
      await refusal(
        ada.sendMessage(sendRequest(example(1).message(), { taskPushNotificationConfig: { ...config, taskId: '' } })),
      ),
    ];
    for (const r of refusals) {
      expect(r).toBeInstanceOf(GrpcPushNotificationNotSupportedError);
      checkA2aError(r, 'PUSH_NOTIFICATION_NOT_SUPPORTED');
    }
  });

  test('a2a-version: absent (0.3) or another major version is VERSION_NOT_SUPPORTED (raw grpc-js client of the SDK service definition)', async () => {
    const Raw = makeGenericClientConstructor(A2AService, 'A2AService');
    const raw = new Raw(address, channel);
    const getTask = (version: string | undefined) =>
      new Promise<ServiceError>((resolve, reject) => {
        const m = new Metadata();
        if (version) m.set('a2a-version', version);
        const options: CallOptions = { credentials: tokenOf('ada') };
        (raw as unknown as Record<string, (...a: unknown[]) => void>).getTask!(
          { tenant: '', id: randomUUID() },
          m,
          options,
          (err: ServiceError | null) => (err ? resolve(err) : reject(new Error('GetTask succeeded'))),
        );
      });
    try {
      for (const version of [undefined, '0.3', '2.0']) {
        const err = await getTask(version);
        const details = err.metadata.get('grpc-status-details-bin')[0] as Buffer;
        checkA2aError({ status: err.code, statusDetailsBin: details }, 'VERSION_NOT_SUPPORTED');
      }
      // With the version the SDK sends, the same call reaches the task store.
      const err = await getTask('1.0');
      expect(err.code).toBe(grpcStatus.NOT_FOUND);
    } finally {
      raw.close();
    }
  });
});
