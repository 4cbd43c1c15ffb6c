// `agentmesh inbox answer`: answers a task waiting in the inbox. Every refusal (four eyes, wrong
// role, already answered, expired, not waiting) is one line naming the agent's reason and its code.
import type { Task } from '../../gen/agentmesh/v1/task.js';
import { TaskState } from '../../gen/agentmesh/v1/task.js';
import { Code, isMeshError } from '../../mesh/index.js';
import { parse } from './args.js';
import { CliError, refusal } from './cli-error.js';
import { currentUser, MeshConnection } from './connection.js';
import { AGENT_CALL_MS, agentClient, type AgentClient } from './mesh-agents.js';
import { timeoutOf } from './send-task.js';
import { followAnswered } from './task-command.js';
import { answerMessage } from './task-messages.js';
import { short } from './task-progress.js';

/** The task as the user may read it; not found (or not visible) is one line. */
export async function getTaskOf(client: AgentClient, agent: string, taskId: string): Promise<Task> {
  try {
    return (await client.getTask({ taskId, historyLength: 0 }, { deadlineMs: AGENT_CALL_MS })).task!;
  } catch (err) {
    if (isMeshError(err) && err.code === Code.NOT_FOUND)
      throw new CliError(`${agent}: task ${taskId} not found (or not visible to you: see agentmesh inbox)`);
    throw refusal(agent, `to read task ${taskId}`, err);
  }
}

/** `agentmesh inbox answer <agent> <task-id> <choice|json>`: answers the step the task waits on, then follows it. */
export async function answerFromInbox(args: string[]): Promise<number> {
  const { values, positionals } = parse('inbox', args, {
    json: { type: 'boolean' },
    timeout: { type: 'string' },
  });
  const [agent, taskId, reply, extra] = positionals;
  if (!agent || !taskId || reply === undefined || extra !== undefined)
    throw new CliError(
      'inbox answer needs an agent, a task id and the answer: agentmesh inbox answer <agent> <task-id> <choice|json>',
      2,
    );
  const timeoutMs = timeoutOf(values);
  const conn = new MeshConnection(currentUser(values.user as string | undefined));
  try {
    const client = await agentClient(conn, agent);
    const task = await getTaskOf(client, agent, taskId);
    const stepId = task.status?.inputRequest?.stepId;
    if (task.status?.state !== TaskState.TASK_STATE_INPUT_REQUIRED || !stepId)
      throw new CliError(`${agent}: task ${taskId} waits for no answer (it is ${short(task.status?.state ?? 0)})`);
    let answered: Task;
    try {
      answered = (
        await client.provideInput(
          { taskId, stepId, message: answerMessage(reply), expectedVersion: 0 },
          { deadlineMs: AGENT_CALL_MS },
        )
      ).task!;
    } catch (err) {
      throw refusal(agent, `the answer to step ${stepId} of task ${taskId}`, err);
    }
    // The person who answered follows the task on (they keep read access to it); no further questions are put to them.
    return await followAnswered(agent, client, answered, stepId, {
      json: Boolean(values.json),
      noInput: true,
      timeoutMs,
    });
  } finally {
    conn.close();
  }
}
