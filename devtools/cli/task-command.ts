import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline/promises';
import { AgentServiceService } from '../../gen/agentmesh/v1/agent_service.js';
import { Task, TaskState } from '../../gen/agentmesh/v1/task.js';
import type { MeshClient } from '../../mesh/index.js';
import { Code, isMeshError } from '../../mesh/index.js';
import { CliError, refusal } from './cli-error.js';
import type { MeshConnection } from './connection.js';
import { requestMessage } from '../../mesh/index.js';
import { approvalCount, approvalLine, deadlineText, isApproval, whoMayAnswer } from './approval-view.js';
import { answerMessage } from './task-messages.js';
import { follow, Progress, short, statusText } from './task-progress.js';

type AgentClient = MeshClient<typeof AgentServiceService>;

/** How `agentmesh task` and `agentmesh answer` follow a task. */
export interface TaskOptions {
  skill?: string;
  text?: string;
  json: boolean;
  /** Return when the task needs a person instead of asking (implied when stdin is not a terminal). */
  noInput: boolean;
  timeoutMs: number;
}

/** The exit code of `agentmesh task`: 0 completed, 1 failed (or canceled, rejected), 3 waits for a person or for its caller's authority. */
export const EXIT_WAITING = 3;

/** Asks the person at the terminal the task's question; undefined when they give no answer. */
async function ask(task: Task): Promise<string | undefined> {
  const request = task.status?.inputRequest;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const choices = request?.choices.length ? ` [${request.choices.join('/')}]` : '';
    for (;;) {
      const answer = (await rl.question(`${request?.prompt ?? 'input required'}${choices} `)).trim();
      if (!answer) return undefined;
      if (!request?.choices.length || request.choices.includes(answer)) return answer;
      process.stderr.write(`please answer one of: ${request.choices.join(', ')}\n`);
    }
  } finally {
    rl.close();
  }
}

/** Follows a task from where `seen` is to its end (asking for input on the way), prints the outcome once; returns the exit code. */
async function settle(
  agent: string,
  client: AgentClient,
  progress: Progress,
  seen: { taskId: string; sequence: number },
  o: TaskOptions,
  deadline: number,
): Promise<number> {
  for (;;) {
    const task = (await client.getTask({ taskId: seen.taskId, historyLength: 0 })).task!;
    const state = task.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED;
    if (state === TaskState.TASK_STATE_INPUT_REQUIRED) {
      const request = task.status?.inputRequest;
      // The sender of a task never answers its approval (four eyes): nothing to ask them.
      const own = request && isApproval(request) && !request.allowSelfApproval;
      const answer = o.noInput || own ? undefined : (progress.done(), await ask(task));
      if (answer === undefined) {
        if (o.json) process.stdout.write(`${JSON.stringify(Task.toJSON(task))}\n`);
        else {
          progress.line(
            `task ${task.id} waits for a person: ${request?.prompt}${request?.choices.length ? ` (${request.choices.join(' / ')})` : ''}`,
          );
          if (request && isApproval(request)) {
            progress.line(`who may answer: ${whoMayAnswer(request, task.subject)}`);
            progress.line(`approvals so far: ${approvalCount(request)}; deadline: ${deadlineText(request.expiresAt)}`);
            progress.line(`an approver finds it in \`npx agentmesh inbox\` and answers with:`);
            progress.line(`  npx agentmesh inbox answer ${agent} ${task.id} <answer>`);
          } else progress.line(`answer with: npx agentmesh answer ${task.id} <answer>`);
        }
        return EXIT_WAITING;
      }
      await client.provideInput({
        taskId: task.id,
        stepId: request!.stepId,
        message: requestMessage({}, answer),
        expectedVersion: 0,
      });
      await follow(
        client.subscribeTask(
          { taskId: task.id, afterSequence: seen.sequence },
          { deadlineMs: Math.max(1_000, deadline - Date.now()) },
        ),
        progress,
        seen,
        { untilWaiting: true },
      );
      continue;
    }
    if (o.json) process.stdout.write(`${JSON.stringify(Task.toJSON(task))}\n`);
    else if (state === TaskState.TASK_STATE_AUTH_REQUIRED) {
      progress.line(`task ${task.id} waits for its caller's authority: ${statusText(task.status?.message)}`);
    } else if (state === TaskState.TASK_STATE_COMPLETED) {
      const part = task.artifacts[0]?.parts[0]?.content;
      progress.line(
        `result: ${JSON.stringify(part?.$case === 'data' ? part.data : part?.$case === 'text' ? part.text : null, null, 2)}`,
      );
      for (const a of task.approvals) progress.line(`${a.stepId}: ${approvalLine(a)}`);
      progress.line(`explain it: npx agentmesh explain ${task.id}`);
    } else {
      const why = statusText(task.status?.message);
      progress.line(`task ${task.id} ended ${short(state)}${why ? `: ${why}` : ''}`);
      for (const a of task.approvals) progress.line(`${a.stepId}: ${approvalLine(a)}`);
    }
    if (state === TaskState.TASK_STATE_AUTH_REQUIRED) return EXIT_WAITING;
    return state === TaskState.TASK_STATE_COMPLETED ? 0 : 1;
  }
}

/** Runs `work` with a progress display; mesh errors become one line naming the agent (and the task once it exists). */
async function withProgress(
  agent: string,
  o: TaskOptions,
  seen: { taskId: string; sequence: number },
  work: (progress: Progress) => Promise<number>,
): Promise<number> {
  const progress = new Progress(o.json);
  try {
    return await work(progress);
  } catch (err) {
    if (isMeshError(err)) throw new CliError(`${agent}: ${err.message}${seen.taskId ? ` (task ${seen.taskId})` : ''}`);
    throw err;
  } finally {
    progress.done();
  }
}

/** `agentmesh task`: sends a task, shows it live, asks for input when needed, prints the result. Returns the exit code. */
export async function runTask(
  conn: MeshConnection,
  agent: string,
  input: Record<string, unknown>,
  o: TaskOptions,
): Promise<number> {
  conn.service(agent, 'agent');
  const client: AgentClient = conn.client(AgentServiceService, agent, 'user');
  const seen = { taskId: '', sequence: 0 };
  const deadline = Date.now() + o.timeoutMs;
  return withProgress(agent, o, seen, async (progress) => {
    await follow(
      client.streamTask(
        { requestId: randomUUID(), skillId: o.skill ?? '', message: requestMessage(input, o.text) },
        { deadlineMs: o.timeoutMs },
      ),
      progress,
      seen,
    );
    return settle(agent, client, progress, seen, o, deadline);
  });
}

/** `agentmesh answer`: answers the step a task waits on, then follows the task to its outcome as `task` does. */
export async function answerTask(
  agent: string,
  client: AgentClient,
  task: Task,
  reply: string,
  o: TaskOptions,
): Promise<number> {
  const stepId = task.status?.inputRequest?.stepId;
  if (task.status?.state !== TaskState.TASK_STATE_INPUT_REQUIRED || !stepId)
    throw new CliError(`task ${task.id} does not wait for input (it is ${short(task.status?.state ?? 0)})`);
  let after: Task | undefined;
  try {
    ({ task: after } = await client.provideInput({
      taskId: task.id,
      stepId,
      message: answerMessage(reply),
      expectedVersion: 0,
    }));
  } catch (err) {
    throw refusal(agent, `the answer to step ${stepId} of task ${task.id}`, err);
  }
  return followAnswered(agent, client, after!, stepId, o);
}

/**
 * After an answer to step `stepId`: when the step still waits (an approval that needs more
 * people), says how many have approved and returns EXIT_WAITING; else follows the task from that
 * step to its outcome, as `task` does.
 */
export async function followAnswered(
  agent: string,
  client: AgentClient,
  task: Task,
  stepId: string,
  o: TaskOptions,
): Promise<number> {
  const request = task.status?.inputRequest;
  if (task.status?.state === TaskState.TASK_STATE_INPUT_REQUIRED && request?.stepId === stepId) {
    if (o.json) process.stdout.write(`${JSON.stringify(Task.toJSON(task))}\n`);
    else {
      const mine = request.approvals.at(-1);
      process.stdout.write(
        `answered ${stepId} of task ${task.id}${mine ? `: ${approvalLine(mine)}` : ''}\n` +
          `the step needs more: ${approvalCount(request)} so far; it waits for another approver\n`,
      );
    }
    return EXIT_WAITING;
  }
  const seen = { taskId: task.id, sequence: 0 };
  const deadline = Date.now() + o.timeoutMs;
  return withProgress(agent, o, seen, async (progress) => {
    const mine = task.approvals.filter((a) => a.stepId === stepId).at(-1);
    progress.line(`answered ${stepId} of task ${task.id}${mine ? `: ${approvalLine(mine)}` : ''}`);
    // From the start (the task's history is replayed), printing from the answered step on.
    await follow(
      client.subscribeTask({ taskId: task.id, afterSequence: 0 }, { deadlineMs: o.timeoutMs }),
      progress,
      seen,
      { after: stepId, untilWaiting: true },
    );
    return settle(agent, client, progress, seen, o, deadline);
  });
}

/** Finds which agent of the mesh holds a task (task ids are per agent): the agent and its client. */
export async function findTask(
  conn: MeshConnection,
  taskId: string,
  agent?: string,
): Promise<{ agent: string; client: AgentClient; task: Task }> {
  const candidates = agent
    ? [conn.service(agent, 'agent').name]
    : conn.file.services.filter((s) => s.kind === 'agent').map((s) => s.name);
  for (const name of candidates) {
    const client = conn.client(AgentServiceService, name, 'user');
    try {
      const { task } = await client.getTask({ taskId, historyLength: 0 });
      return { agent: name, client, task: task! };
    } catch (err) {
      if (!isMeshError(err) || err.code !== Code.NOT_FOUND) throw err;
    }
  }
  throw new CliError(
    `task ${taskId} not found on ${candidates.join(', ')} (a task is visible to the person who sent it, to those who may answer it and to auditors: --user)`,
  );
}
