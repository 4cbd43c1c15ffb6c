import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline/promises';
import { AgentServiceService, type StreamTaskResponse } from '../../gen/agentmesh/v1/agent_service.js';
import { Message, Role, Task, TaskState } from '../../gen/agentmesh/v1/task.js';
import { StepState } from '../../gen/agentmesh/v1/plan.js';
import type { MeshClient } from '../../mesh/index.js';
import { Code, isMeshError } from '../../mesh/index.js';
import { CliError, type MeshConnection } from './connection.js';

type AgentClient = MeshClient<typeof AgentServiceService>;

/** How `agentmesh task` behaves. */
export interface TaskOptions {
  skill?: string;
  text?: string;
  json: boolean;
  /** Return when the task needs a person instead of asking (implied when stdin is not a terminal). */
  noInput: boolean;
  timeoutMs: number;
}

const SPIN = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const short = (state: TaskState) => TaskState[state]?.replace('TASK_STATE_', '') ?? String(state);

/** Progress for people: plain lines, plus a live spinner line when stdout is a terminal. */
class Progress {
  private readonly tty = process.stdout.isTTY === true;
  private timer: NodeJS.Timeout | undefined;
  private frame = 0;
  private status = 'working';

  constructor(private readonly quiet: boolean) {
    if (this.tty && !quiet) this.timer = setInterval(() => this.draw(), 100);
  }

  private draw(): void {
    process.stdout.write(`\r\x1b[2K${SPIN[this.frame++ % SPIN.length]} ${this.status}`);
  }

  line(text: string): void {
    if (this.quiet) return;
    if (this.tty) process.stdout.write('\r\x1b[2K');
    process.stdout.write(`${text}\n`);
  }

  set(status: string): void {
    this.status = status;
  }

  done(): void {
    clearInterval(this.timer);
    if (this.tty && !this.quiet) process.stdout.write('\r\x1b[2K');
  }
}

/** Follows a task's events, printing steps as they start and finish; returns the last sequence seen. */
async function follow(
  events: AsyncIterable<StreamTaskResponse>,
  progress: Progress,
  seen: { taskId: string; sequence: number },
): Promise<void> {
  const running = new Set<string>();
  let done = 0;
  for await (const { event } of events) {
    if (!event) continue;
    seen.taskId ||= event.taskId;
    seen.sequence = Math.max(seen.sequence, event.sequence);
    const e = event.event;
    if (e?.$case === 'planCreated')
      progress.line(`plan ${e.planCreated.plan?.planId}: ${e.planCreated.plan?.steps.map((s) => s.id).join(' -> ')}`);
    if (e?.$case === 'stepStarted') {
      running.add(e.stepStarted.stepId);
      progress.line(
        `  > ${e.stepStarted.stepId} started${e.stepStarted.attempt > 1 ? ` (attempt ${e.stepStarted.attempt})` : ''}`,
      );
    }
    if (e?.$case === 'stepFinished') {
      running.delete(e.stepFinished.stepId);
      done++;
      const state = StepState[e.stepFinished.state].replace('STEP_STATE_', '').toLowerCase();
      progress.line(
        `  ${e.stepFinished.state === StepState.STEP_STATE_FAILED ? 'x' : '='} ${e.stepFinished.stepId} ${state}${e.stepFinished.reason ? `: ${e.stepFinished.reason}` : ''}`,
      );
    }
    if (e?.$case === 'statusUpdate') {
      const state = e.statusUpdate.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED;
      // Why it failed, was canceled or waits for its caller; a question is asked below, not here.
      const why =
        state === TaskState.TASK_STATE_WORKING || state === TaskState.TASK_STATE_INPUT_REQUIRED
          ? ''
          : statusText(e.statusUpdate.status?.message);
      progress.line(`task ${seen.taskId}: ${short(state)}${why ? `: ${why}` : ''}`);
    }
    progress.set(`working: ${done} step(s) done${running.size ? `, running ${[...running].join(', ')}` : ''}`);
  }
}

const statusText = (message: Message | undefined) =>
  message?.parts
    .map((p) => (p.content?.$case === 'text' ? p.content.text : ''))
    .join(' ')
    .trim() ?? '';

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

/** The request message: the input object as a data part, plus the text when given. */
export function requestMessage(input: Record<string, unknown>, text: string | undefined): Message {
  return Message.fromPartial({
    messageId: randomUUID(),
    role: Role.ROLE_USER,
    parts: [
      ...(text ? [{ content: { $case: 'text' as const, text } }] : []),
      { content: { $case: 'data' as const, data: input } },
    ],
  });
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
  const progress = new Progress(o.json);
  const seen = { taskId: '', sequence: 0 };
  const deadline = Date.now() + o.timeoutMs;
  try {
    await follow(
      client.streamTask(
        { requestId: randomUUID(), skillId: o.skill ?? '', message: requestMessage(input, o.text) },
        { deadlineMs: o.timeoutMs },
      ),
      progress,
      seen,
    );
    for (;;) {
      const task = (await client.getTask({ taskId: seen.taskId, historyLength: 0 })).task!;
      const state = task.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED;
      if (state === TaskState.TASK_STATE_INPUT_REQUIRED) {
        const request = task.status?.inputRequest;
        const answer = o.noInput ? undefined : (progress.done(), await ask(task));
        if (answer === undefined) {
          if (o.json) process.stdout.write(`${JSON.stringify(Task.toJSON(task))}\n`);
          else {
            progress.line(
              `task ${task.id} waits for a person: ${request?.prompt}${request?.choices.length ? ` (${request.choices.join(' / ')})` : ''}`,
            );
            progress.line(`answer with: npx agentmesh answer ${task.id} <answer>`);
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
        progress.line(`explain it: npx agentmesh explain ${task.id}`);
      } else {
        const why = statusText(task.status?.message);
        progress.line(`task ${task.id} ended ${short(state)}${why ? `: ${why}` : ''}`);
      }
      if (state === TaskState.TASK_STATE_AUTH_REQUIRED) return EXIT_WAITING;
      return state === TaskState.TASK_STATE_COMPLETED ? 0 : 1;
    }
  } catch (err) {
    if (isMeshError(err)) throw new CliError(`${agent}: ${err.message}${seen.taskId ? ` (task ${seen.taskId})` : ''}`);
    throw err;
  } finally {
    progress.done();
  }
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
    `task ${taskId} not found on ${candidates.join(', ')} (tasks are visible to the user who sent them: --user)`,
  );
}
