import type { AgentServiceService } from '../../gen/agentmesh/v1/agent_service.js';
import { Message, Role, TaskState, type Task } from '../../gen/agentmesh/v1/task.js';
import { Code, MeshError } from '../core/index.js';
import { isTerminal } from '../state/index.js';
import type { A2aStepRunner, ExternalAgent } from './a2a/a2a-step-runner.js';
import type { Choice, Connect } from './collaborators.js';
import { authorityRequired, type StepCall, type StepResult } from './executor.js';

const WAITING = new Set([TaskState.TASK_STATE_INPUT_REQUIRED, TaskState.TASK_STATE_AUTH_REQUIRED]);
const settled = (state: TaskState) => isTerminal(state) || WAITING.has(state);

/** The data of a completed task's result artifact (its first data part, else its text). */
function resultOf(task: Task): unknown {
  const artifact = task.artifacts.find((a) => a.name === 'result') ?? task.artifacts[0];
  const part = artifact?.parts.find((p) => p.content?.$case === 'data') ?? artifact?.parts[0];
  return part?.content?.$case === 'data'
    ? part.content.data
    : part?.content?.$case === 'text'
      ? part.content.text
      : null;
}

/** External A2A agents among the collaborators: which names they are, and the runner that calls them. */
export interface ExternalAgents {
  /** One lookup: the external agent under `name`, else the choice to connect to (undefined: connect finds it). */
  find(name: string): Promise<{ external?: ExternalAgent; choice?: Choice }>;
  runner: Pick<A2aStepRunner, 'run'>;
}

/**
 * Runs agent steps: a sub-task on the collaborating agent's skill, sent with a
 * token exchanged from the task's caller (so the collaborator sees the user as
 * subject and this agent in `act`), with the step's idempotency key as
 * request_id (a re-sent step finds the same child task), followed until it
 * settles. A collaborator the registry describes as an external A2A agent is
 * called through the A2A client instead (a2a/a2a-step-runner.ts).
 */
export class AgentStepRunner {
  constructor(
    private readonly connect: Connect<typeof AgentServiceService>,
    /** The access token of the caller the task runs for, while this process holds it. */
    private readonly authorityFor: (taskId: string) => string | undefined,
    private readonly external?: ExternalAgents,
  ) {}

  async run(call: StepCall): Promise<StepResult> {
    const target = call.step.target;
    if (target?.$case !== 'agent') throw new MeshError(Code.INTERNAL, `step ${call.step.id} is not an agent step`);
    const located = await this.external?.find(target.agent.agent);
    if (located?.external)
      return this.external!.runner.run(call, located.external, () => this.authorityFor(call.taskId));
    const authority = this.authorityFor(call.taskId);
    // Tokens are never persisted: after a restart (or a long wait) the task waits for its caller to come back.
    if (!authority)
      throw authorityRequired(`no current token of the task's caller to act on ${target.agent.agent} with`);
    const { client, choice } = await this.connect(target.agent.agent, located?.choice);
    const left = () => Math.max(1, call.deadline - Date.now());
    const options = () => ({ signal: call.signal, actFor: authority, deadlineMs: left() });
    const message = Message.fromPartial({
      messageId: call.idempotencyKey,
      role: Role.ROLE_USER,
      parts: [{ content: { $case: 'data', data: call.args } }],
    });
    // The child task gets what this step has left: deadlines shrink down a chain of agents.
    const budget = left();
    const timeout = { seconds: Math.floor(budget / 1000), nanos: (budget % 1000) * 1e6 };
    const sent = await client.sendTask(
      {
        requestId: call.idempotencyKey,
        skillId: target.agent.skillId,
        message,
        configuration: { blocking: false, historyLength: 0, timeout },
      },
      options(),
    );
    let task = sent.task!;
    const childTask = { agent: target.agent.agent, taskId: task.id };
    call.childTaskCreated(childTask);
    if (!settled(task.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED)) {
      try {
        // The subscription carries the snapshot, then every status and artifact: the settled task is
        // rebuilt from it, without a GetTask after the end (one round trip less per child task).
        let followed: Task | undefined;
        for await (const { event } of client.subscribeTask({ taskId: task.id, afterSequence: 0 }, options())) {
          const e = event?.event;
          if (e?.$case === 'task') followed = e.task;
          else if (followed && e?.$case === 'statusUpdate') followed = { ...followed, status: e.statusUpdate.status };
          else if (followed && e?.$case === 'artifactUpdate' && e.artifactUpdate.artifact) {
            const artifact = e.artifactUpdate.artifact;
            const others = followed.artifacts.filter((a) => a.artifactId !== artifact.artifactId);
            followed = { ...followed, artifacts: [...others, artifact] };
          }
          const state = followed?.status?.state;
          if (state !== undefined && settled(state)) break;
        }
        const state = followed?.status?.state;
        task =
          followed && state !== undefined && settled(state)
            ? followed
            : (await client.getTask({ taskId: task.id, historyLength: 0 }, options())).task!;
      } catch (err) {
        // Canceled or timed out here: stop the child too, so no work goes on for nobody.
        if (call.signal.aborted) {
          await client
            .cancelTask(
              { taskId: task.id, reason: `step ${call.step.id} of ${call.taskId} stopped` },
              { actFor: authority, deadlineMs: 2_000 },
            )
            .catch(() => undefined);
          call.childTaskStopped?.();
        }
        throw err;
      }
    }
    const state = task.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED;
    if (state === TaskState.TASK_STATE_COMPLETED) return { output: resultOf(task), childTask, choice };
    const why = task.status?.message?.parts
      .map((p) => (p.content?.$case === 'text' ? p.content.text : ''))
      .join(' ')
      .trim();
    const verb = WAITING.has(state) ? 'waits for input (not supported inside a plan)' : `ended ${TaskState[state]}`;
    throw new MeshError(
      Code.FAILED_PRECONDITION,
      `${target.agent.agent} task ${task.id} ${verb}${why ? `: ${why}` : ''}`,
    );
  }
}
