import type { AgentServiceService } from '../../gen/agentmesh/v1/agent_service.js';
import { Message, Role, TaskState, type Task } from '../../gen/agentmesh/v1/task.js';
import { Code, MeshError } from '../server/errors.js';
import { isTerminal } from '../state/task-states.js';
import type { Connect } from './collaborators.js';
import type { StepCall, StepResult } from './executor.js';

const WAITING = new Set([TaskState.TASK_STATE_INPUT_REQUIRED, TaskState.TASK_STATE_AUTH_REQUIRED]);
const settled = (state: TaskState) => isTerminal(state) || WAITING.has(state);

/** The data of a completed task's result artifact (its first data part, else its text). */
function resultOf(task: Task): unknown {
  const artifact = task.artifacts.find((a) => a.name === 'result') ?? task.artifacts[0];
  const part = artifact?.parts.find((p) => p.content?.$case === 'data') ?? artifact?.parts[0];
  return part?.content?.$case === 'data' ? part.content.data : part?.content?.$case === 'text' ? part.content.text : null;
}

/**
 * Runs agent steps: a sub-task on the collaborating agent's skill, sent with a
 * token exchanged from the task's caller (so the collaborator sees the user as
 * subject and this agent in `act`), with the step's idempotency key as
 * request_id (a re-sent step finds the same child task), followed until it
 * settles.
 */
export class AgentStepRunner {
  constructor(
    private readonly connect: Connect<typeof AgentServiceService>,
    /** The access token of the caller the task runs for, while this process holds it. */
    private readonly authorityFor: (taskId: string) => string | undefined,
  ) {}

  async run(call: StepCall): Promise<StepResult> {
    const target = call.step.target;
    if (target?.$case !== 'agent') throw new MeshError(Code.INTERNAL, `step ${call.step.id} is not an agent step`);
    const authority = this.authorityFor(call.taskId);
    if (!authority) {
      // Tokens are never persisted: after a restart, the caller has to send the task again.
      throw new MeshError(Code.UNAUTHENTICATED, `no caller authority to act for on ${target.agent.agent} (the agent restarted since the task was sent); send the task again`);
    }
    const { client, choice } = await this.connect(target.agent.agent);
    const options = () => ({ signal: call.signal, actFor: authority, deadlineMs: Math.max(1, call.deadline - Date.now()) });
    const message = Message.fromPartial({ messageId: call.idempotencyKey, role: Role.ROLE_USER, parts: [{ content: { $case: 'data', data: call.args } }] });
    const sent = await client.sendTask({ requestId: call.idempotencyKey, skillId: target.agent.skillId, message, configuration: { blocking: false, historyLength: 0 } }, options());
    let task = sent.task!;
    const childTask = { agent: target.agent.agent, taskId: task.id };
    call.childTaskCreated(childTask);
    if (!settled(task.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED)) {
      try {
        for await (const { event } of client.subscribeTask({ taskId: task.id, afterSequence: 0 }, options())) {
          const e = event?.event;
          const state = e?.$case === 'statusUpdate' ? e.statusUpdate.status?.state : e?.$case === 'task' ? e.task.status?.state : undefined;
          if (state !== undefined && settled(state)) break;
        }
        task = (await client.getTask({ taskId: task.id, historyLength: 0 }, options())).task!;
      } catch (err) {
        // Canceled or timed out here: stop the child too, so no work goes on for nobody.
        if (call.signal.aborted) {
          await client.cancelTask({ taskId: task.id, reason: `step ${call.step.id} of ${call.taskId} stopped` }, { actFor: authority, deadlineMs: 2_000 }).catch(() => undefined);
        }
        throw err;
      }
    }
    const state = task.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED;
    if (state === TaskState.TASK_STATE_COMPLETED) return { output: resultOf(task), childTask, choice };
    const why = task.status?.message?.parts.map((p) => (p.content?.$case === 'text' ? p.content.text : '')).join(' ').trim();
    const verb = WAITING.has(state) ? 'waits for input (not supported inside a plan)' : `ended ${TaskState[state]}`;
    throw new MeshError(Code.FAILED_PRECONDITION, `${target.agent.agent} task ${task.id} ${verb}${why ? `: ${why}` : ''}`);
  }
}
