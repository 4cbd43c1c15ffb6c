import { createHash } from 'node:crypto';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { credentials } from '@grpc/grpc-js';
import {
  AgentCard as A2aCardJson,
  Role,
  TaskState,
  type AgentCard as A2aCard,
  type Message as A2aMessage,
  type Part as A2aPart,
  type Task as A2aTask,
} from '@a2a-js/sdk';
import { ClientFactory, type Client } from '@a2a-js/sdk/client';
import { GrpcTransportFactory } from '@a2a-js/sdk/client/grpc';
import type { AgentCard } from '../../../gen/agentmesh/v1/card.js';
import type { StepAttempt } from '../../../gen/agentmesh/v1/explain.js';
import { Code, MeshError } from '../../core/index.js';
import { traceHeaders } from '../../telemetry/index.js';
import { EXTERNAL_A2A_VERSION } from '../../discovery/index.js';
import { spiffeUrisOf } from '../../security/index.js';
import { locateCollaborator, type Choice, type CollaboratorRoutes } from '../collaborators.js';
import { authorityRequired, type StepCall, type StepResult } from '../executor.js';
import { sleep } from '../retry.js';
import { a2aAccessFor } from './a2a-access.js';

/** An agent outside agentmesh, registered from its A2A card: how the registry describes it, and why it was chosen. */
export interface ExternalAgent {
  /** Its registry name, "namespace/name": the audience of the tokens it is sent. */
  name: string;
  card: A2aCard;
  /** PEM CA bundle its TLS certificate is checked against, and only it; empty: the system's root CAs (never the mesh CA). */
  caPem: string;
  /** host:port of its GRPC interface (its registry endpoint). */
  address: string;
  choice: Choice;
}

/** What this workload brings to a call: the mesh's token endpoint and token exchange, and its TLS material. */
export interface A2aCallerOptions {
  /** The mesh's token endpoint: the only issuer a caller's token is exchanged at. */
  meshTokenUrl: string;
  /** Exchanges the caller's token for one addressed to `audience` (this agent in `act`). */
  exchange(subjectToken: string, audience: string, scopes: string[]): Promise<string>;
  /** The mesh's trust domain: a server presenting a SPIFFE ID of it is a mesh workload, not the external agent. */
  trustDomain: string;
  /** The mesh CA and this workload's certificate and key (PEM), read when called (they rotate); undefined without TLS files. */
  tls(): { ca: Buffer; cert: Buffer; key: Buffer } | undefined;
}

/** Request options for one call, with a token exchanged for it. */
type CallOptions = () => Promise<{ signal?: AbortSignal; serviceParameters: Record<string, string> }>;

const WAITING = new Set([TaskState.TASK_STATE_INPUT_REQUIRED, TaskState.TASK_STATE_AUTH_REQUIRED]);
const TERMINAL = new Set([
  TaskState.TASK_STATE_COMPLETED,
  TaskState.TASK_STATE_FAILED,
  TaskState.TASK_STATE_CANCELED,
  TaskState.TASK_STATE_REJECTED,
]);
const settled = (state: TaskState) => TERMINAL.has(state) || WAITING.has(state);

/** A state's short name, e.g. FAILED. */
export const stateName = (state: TaskState) => (TaskState[state] ?? String(state)).replace(/^TASK_STATE_/, '');

/**
 * Locates the agent named `name` once: the external agent the registry describes under it, else the
 * choice to connect to it with (nothing for a static route or without a registry: connecting finds it).
 */
export async function findExternalAgent(
  routes: CollaboratorRoutes,
  name: string,
): Promise<{ external?: ExternalAgent; choice?: Choice }> {
  if (routes.static.has(name) || !routes.discovery()) return {};
  const { choice, card } = await locateCollaborator(routes, name);
  return card?.a2a?.external ? { external: externalAgentOf(card, choice), choice } : { choice };
}

/** An external agent from its registry card (the A2A card under `a2a.card`). */
export function externalAgentOf(card: AgentCard, choice: Choice): ExternalAgent {
  let a2aCard: A2aCard;
  try {
    a2aCard = A2aCardJson.fromJSON(card.a2a!.card ?? {});
  } catch (err) {
    throw new MeshError(
      Code.FAILED_PRECONDITION,
      `external A2A agent ${card.name}: its registered card is unreadable (${(err as Error).message})`,
    );
  }
  return { name: card.name, card: a2aCard, caPem: card.a2a!.caPem, address: choice.address, choice };
}

/** The output of a message's or artifact's parts: the last data part, else the text. */
function outputOf(parts: A2aPart[]): unknown {
  const data = parts.findLast((p) => p.content?.$case === 'data');
  if (data?.content?.$case === 'data') return data.content.value ?? null;
  const text = parts.flatMap((p) => (p.content?.$case === 'text' ? [p.content.value] : [])).join('');
  return text || null;
}

/** The text of a task's status message: why it ended as it did. */
const reasonOf = (task: A2aTask) =>
  (task.status?.message?.parts ?? [])
    .flatMap((p) => (p.content?.$case === 'text' ? [p.content.value] : []))
    .join(' ')
    .trim();

/** An SDK error as a MeshError: the gRPC status it carries (A2A errors map to theirs), else UNAVAILABLE (no answer). */
function meshErrorOf(err: unknown, agent: string): MeshError {
  if (err instanceof MeshError) return err;
  const status = (err as { status?: unknown }).status;
  const message = `${agent}: ${(err as Error).message ?? String(err)}`;
  return typeof status === 'number' && status in Code
    ? new MeshError(status as Code, message, { cause: err })
    : new MeshError(Code.UNAVAILABLE, message, { cause: err });
}

/**
 * Runs agent steps on external A2A agents with the official SDK's gRPC
 * client: TLS checked against the agent's CA bundle (the system roots by
 * default, never the mesh CA; no mesh workload certificate accepted), this
 * workload's certificate when the card asks for mutual TLS, the caller's
 * token exchanged at the mesh's token endpoint when the card's OAuth2 scheme
 * names that endpoint (refused, before any call, when it names another
 * issuer). The message id is the step's idempotency key (task, step and
 * first attempt: a retry after an ambiguous failure re-sends the same id).
 * The task is followed to a terminal state; one that waits for input or
 * authorization fails the step (human steps are not bridged across A2A) and
 * is canceled there. Deadlines, retries and the circuit breaker are the
 * executor's, as for any step.
 */
export class A2aStepRunner {
  private readonly clients = new Map<string, { key: string; client: Promise<Client> }>();

  constructor(private readonly options: A2aCallerOptions) {}

  /** A client for the agent: one channel per address and TLS material (a rotated certificate gets a new one). */
  private clientFor(agent: ExternalAgent, mutualTls: boolean): Promise<Client> {
    const own = this.options.tls();
    // Exactly the entry's CA bundle, else the system roots: never the mesh CA implicitly, whose workload
    // certificates all name localhost / 127.0.0.1 (any mesh workload could otherwise pose as the agent).
    const ca = agent.caPem ? Buffer.from(agent.caPem) : undefined;
    const cert = mutualTls ? own?.cert : undefined;
    const key = mutualTls ? own?.key : undefined;
    if (mutualTls && !cert)
      throw new MeshError(
        Code.FAILED_PRECONDITION,
        `cannot call external A2A agent ${agent.name}: its card requires mutual TLS and this workload has no certificate`,
      );
    const fingerprint = createHash('sha256')
      .update(JSON.stringify([agent.card.supportedInterfaces, ca?.toString(), cert?.toString()]))
      .digest('hex');
    const card = dialedCard(agent);
    const known = this.clients.get(agent.address);
    if (known?.key === fingerprint) return known.client;
    if (known) void known.client.then(closeClient, () => undefined);
    const trustDomain = this.options.trustDomain;
    const factory = new ClientFactory({
      transports: [
        new GrpcTransportFactory({
          grpcChannelCredentials: credentials.createSsl(ca, key, cert, {
            checkServerIdentity: (host, peer) => externalServerIdentity(host, peer, trustDomain),
          }),
        }),
      ],
    });
    const client = factory.createFromAgentCard(card).catch((err: unknown) => {
      this.clients.delete(agent.address);
      throw new MeshError(
        Code.FAILED_PRECONDITION,
        `external A2A agent ${agent.name}: no usable GRPC interface on its card (${(err as Error).message})`,
      );
    });
    this.clients.set(agent.address, { key: fingerprint, client });
    return client;
  }

  /**
   * What a call needs: the client and its request options, each with a token exchanged for that call
   * (when the card asks for one): a long follow outlives a token. The first is exchanged here, before
   * any call, so a refused exchange or a missing caller token leaves nothing sent.
   */
  private async prepare(
    agent: ExternalAgent,
    skillId: string,
    authority: () => string | undefined,
    signal?: AbortSignal,
  ): Promise<{ client: Client; options: CallOptions }> {
    const access = a2aAccessFor(agent.card, skillId, this.options.meshTokenUrl, agent.name);
    const bearer = async (): Promise<Record<string, string>> => {
      if (!access.token) return {};
      // Tokens are never persisted: after a restart the task waits for its caller to come back.
      const subject = authority();
      if (!subject) throw authorityRequired(`no current token of the task's caller to act on ${agent.name} with`);
      return { authorization: `Bearer ${await this.options.exchange(subject, agent.name, access.token.scopes)}` };
    };
    let first: Record<string, string> | undefined = await bearer();
    const client = await this.clientFor(agent, access.mutualTls);
    const options = async () => {
      const serviceParameters = first ?? (await bearer());
      first = undefined;
      // The SDK's gRPC client is not the mesh's: the step's trace context goes in as headers.
      return { signal, serviceParameters: { ...serviceParameters, ...traceHeaders() } };
    };
    return { client, options };
  }

  async run(call: StepCall, agent: ExternalAgent, authority: () => string | undefined): Promise<StepResult> {
    const target = call.step.target;
    if (target?.$case !== 'agent') throw new MeshError(Code.INTERNAL, `step ${call.step.id} is not an agent step`);
    const { skillId } = target.agent;
    const { client, options } = await this.prepare(agent, skillId, authority, call.signal);
    const parts: A2aPart[] = [
      {
        content: { $case: 'data', value: call.args },
        metadata: undefined,
        filename: '',
        mediaType: 'application/json',
      },
    ];
    if (call.prompt)
      parts.push({ content: { $case: 'text', value: call.prompt }, metadata: undefined, filename: '', mediaType: '' });
    const message: A2aMessage = {
      messageId: call.idempotencyKey,
      // Its own context, named by the key: a retry finds the task it may have created (ListTasks).
      contextId: call.idempotencyKey,
      taskId: '',
      role: Role.ROLE_USER,
      parts,
      metadata: undefined,
      extensions: [],
      referenceTaskIds: [],
    };
    // The SDK's server does not deduplicate by message id: after an ambiguous failure the task the
    // earlier attempt created (recorded, or found in the key's context) is taken up, not sent again.
    const earlier = call.resumes && (await this.taskSentBefore(client, agent, call, options));
    let sent;
    try {
      sent =
        earlier ??
        (await client.sendMessage(
          {
            tenant: '',
            message,
            configuration: {
              acceptedOutputModes: ['application/json', 'text/plain'],
              taskPushNotificationConfig: undefined,
              historyLength: 0,
              // The task id comes back at once, so it is recorded before the task is followed.
              returnImmediately: true,
            },
            // The skill, as agentmesh agents read it (other agents route by the message).
            metadata: { skillId },
          },
          await options(),
        ));
    } catch (err) {
      // Canceled or out of time before the answer: the task may exist there without its id known here.
      if (call.signal.aborted) await this.cancelUnanswered(client, call, options);
      throw meshErrorOf(err, agent.name);
    }
    // An agent may answer with a message and no task: that message is the result.
    if (!('status' in sent)) return { output: outputOf(sent.parts), choice: agent.choice };
    let task: A2aTask = sent;
    const childTask = { agent: agent.name, taskId: task.id };
    call.childTaskCreated(childTask);
    const stateOf = (t: A2aTask) => t.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED;
    if (!settled(stateOf(task))) {
      try {
        task = await this.follow(client, agent, task.id, options, call.signal);
      } catch (err) {
        // Canceled or timed out here: stop the external task too, so no work goes on for nobody.
        if (call.signal.aborted) {
          await this.cancel(client, task.id, `step ${call.step.id} of ${call.taskId} stopped`, options);
          call.childTaskStopped?.();
        }
        throw meshErrorOf(err, agent.name);
      }
    }
    const state = stateOf(task);
    if (state === TaskState.TASK_STATE_COMPLETED) {
      const artifact = task.artifacts.at(-1);
      return {
        output: artifact ? outputOf(artifact.parts) : outputOf(task.status?.message?.parts ?? []),
        childTask,
        choice: agent.choice,
      };
    }
    const why = reasonOf(task);
    if (WAITING.has(state)) {
      // Nobody will answer it through agentmesh: the external task is canceled rather than left waiting.
      await this.cancel(
        client,
        task.id,
        `step ${call.step.id} of ${call.taskId}: input across A2A is not bridged`,
        options,
      );
      throw new MeshError(
        Code.FAILED_PRECONDITION,
        `external A2A agent ${agent.name} task ${task.id} asks for ${state === TaskState.TASK_STATE_AUTH_REQUIRED ? 'authorization' : 'input'} (${stateName(state)}), which agentmesh does not bridge across A2A${why ? `: ${why}` : ''}`,
      );
    }
    throw new MeshError(
      Code.FAILED_PRECONDITION,
      `external A2A agent ${agent.name} task ${task.id} ended ${stateName(state)}${why ? `: ${why}` : ''}`,
    );
  }

  /**
   * The task an earlier attempt under the same key created: the one it recorded, else the one in the
   * key's context (its reply was lost). Undefined when there is none, or the agent cannot list tasks
   * (then the message is sent again: an agent that does not deduplicate may make a second task).
   */
  private async taskSentBefore(
    client: Client,
    agent: ExternalAgent,
    call: StepCall,
    options: CallOptions,
  ): Promise<A2aTask | undefined> {
    const recorded = call.resumes?.childTask;
    try {
      const get = async (id: string) => client.getTask({ tenant: '', id, historyLength: 0 }, await options());
      if (recorded?.agent === agent.name) return await get(recorded.taskId);
      const { tasks } = await client.listTasks(
        {
          tenant: '',
          contextId: call.idempotencyKey,
          status: TaskState.TASK_STATE_UNSPECIFIED,
          pageSize: 1,
          pageToken: '',
          historyLength: 0,
          statusTimestampAfter: undefined,
        },
        await options(),
      );
      // Listed without its artifacts: read whole.
      return tasks[0] && (await get(tasks[0].id));
    } catch (err) {
      const { code } = meshErrorOf(err, agent.name);
      // Not found, or no ListTasks there: nothing to take up. Anything else is this attempt's failure.
      if (recorded || (code !== Code.UNIMPLEMENTED && code !== Code.FAILED_PRECONDITION))
        throw meshErrorOf(err, agent.name);
      return undefined;
    }
  }

  /**
   * Follows a task until it settles: its stream when the card says it streams, then GetTask, polled
   * with growing pauses until the task settles. The stream may say nothing of the end: a task that
   * settled before SubscribeToTask is refused (UNSUPPORTED_OPERATION, as the SDK's server answers for
   * a terminal task), and a stream may end before a settled state.
   */
  private async follow(
    client: Client,
    agent: ExternalAgent,
    id: string,
    options: CallOptions,
    signal: AbortSignal,
  ): Promise<A2aTask> {
    if (agent.card.capabilities?.streaming) {
      try {
        for await (const event of client.resubscribeTask({ tenant: '', id }, await options())) {
          const p = event.payload;
          const state =
            p?.$case === 'statusUpdate'
              ? p.value.status?.state
              : p?.$case === 'task'
                ? p.value.status?.state
                : undefined;
          if (state !== undefined && settled(state)) break;
        }
      } catch (err) {
        if ((err as Error).name !== 'UnsupportedOperationError') throw err;
      }
    }
    for (let pause = 200; ; pause = Math.min(pause * 2, 5_000)) {
      const now = await client.getTask({ tenant: '', id, historyLength: 0 }, await options());
      if (settled(now.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED)) return now;
      await sleep(pause, signal);
    }
  }

  /** Best effort: cancels the task a SendMessage left unanswered may have created (found in the key's context). */
  private async cancelUnanswered(client: Client, call: StepCall, options: CallOptions): Promise<void> {
    const signal = AbortSignal.timeout(5_000);
    const found = await options()
      .then((o) =>
        client.listTasks(
          {
            tenant: '',
            contextId: call.idempotencyKey,
            status: TaskState.TASK_STATE_UNSPECIFIED,
            pageSize: 10,
            pageToken: '',
            historyLength: 0,
            statusTimestampAfter: undefined,
          },
          { ...o, signal },
        ),
      )
      .then(({ tasks }) => tasks.filter((t) => !TERMINAL.has(t.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED)))
      .catch(() => []);
    for (const task of found)
      await this.cancel(client, task.id, `step ${call.step.id} of ${call.taskId} stopped`, options);
    if (found.length) call.childTaskStopped?.();
  }

  private async cancel(client: Client, id: string, reason: string, options: CallOptions): Promise<void> {
    const signal = AbortSignal.timeout(5_000);
    await options()
      .then((o) => client.cancelTask({ tenant: '', id, metadata: { reason } }, { ...o, signal }))
      .then(() => undefined)
      .catch(() => undefined);
  }

  /** Closes every channel. */
  close(): void {
    for (const { client } of this.clients.values()) void client.then(closeClient, () => undefined);
    this.clients.clear();
  }
}

/**
 * What a step recorded of its external child task, for an explanation: the state the step saw when
 * its attempt ended (the attempt's outcome, whose reason names the task's state when it did not
 * complete). The agent is not asked: the reader's token would be sent to it.
 */
export function recordedChildState(taskId: string, recorded: { stepId: string; attempt: StepAttempt }): string {
  const { stepId, attempt } = recorded;
  if (!attempt.finishedAt)
    return `its task ${taskId} was still running when last recorded (step ${stepId} had not ended)`;
  if (attempt.code === 'OK') return `its task ${taskId} was COMPLETED when step ${stepId} ended`;
  return `its task ${taskId}: step ${stepId} ended ${attempt.code} with it (${attempt.error})`;
}

/**
 * An external agent's server certificate: the host name (or IP) of the interface's url, as any TLS
 * client checks it, and no SPIFFE ID of the mesh's trust domain (a mesh workload is not an external
 * agent, whatever CA bundle its entry names).
 */
export function externalServerIdentity(host: string, cert: PeerCertificate, trustDomain: string): Error | undefined {
  const wrongHost = checkServerIdentity(host, cert);
  if (wrongHost) return wrongHost;
  const prefix = `spiffe://${trustDomain.toLowerCase()}/`;
  const mesh = spiffeUrisOf(cert).find((uri) => uri.toLowerCase().startsWith(prefix));
  return mesh
    ? new Error(`server certificate names mesh workload ${mesh}: a mesh workload is not an external A2A agent`)
    : undefined;
}

/**
 * The agent's card with only the interface the registry validated and shows (its endpoint): the
 * SDK picks among a card's interfaces by its own rule (the last GRPC one), and the caller's
 * delegated token must go to the address that was checked, never to another listed beside it.
 */
function dialedCard(agent: ExternalAgent): A2aCard {
  const chosen = agent.card.supportedInterfaces.find(
    (i) =>
      i.protocolBinding.toUpperCase() === 'GRPC' &&
      i.protocolVersion === EXTERNAL_A2A_VERSION &&
      i.url === agent.address,
  );
  if (!chosen)
    throw new MeshError(
      Code.FAILED_PRECONDITION,
      `external A2A agent ${agent.name}: its card has no GRPC ${EXTERNAL_A2A_VERSION} interface at its registered address ${agent.address}`,
    );
  return { ...agent.card, supportedInterfaces: [chosen] };
}

/** Closes the gRPC channel under an SDK client (the SDK has no close of its own). */
function closeClient(client: Client): void {
  (client.transport as unknown as { grpcClient?: { close(): void } }).grpcClient?.close();
}
