import type { StreamTaskResponse } from '../../gen/agentmesh/v1/agent_service.js';
import { StepState } from '../../gen/agentmesh/v1/plan.js';
import { type Message, TaskState } from '../../gen/agentmesh/v1/task.js';

const SPIN = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** A task state as people read it: COMPLETED, FAILED, ... */
export const short = (state: TaskState): string => TaskState[state]?.replace('TASK_STATE_', '') ?? String(state);

/** The text parts of a status message. */
export const statusText = (message: Message | undefined): string =>
  message?.parts
    .map((p) => (p.content?.$case === 'text' ? p.content.text : ''))
    .join(' ')
    .trim() ?? '';

const TERMINAL = new Set([
  TaskState.TASK_STATE_COMPLETED,
  TaskState.TASK_STATE_FAILED,
  TaskState.TASK_STATE_CANCELED,
  TaskState.TASK_STATE_REJECTED,
]);
const WAITING = new Set([TaskState.TASK_STATE_INPUT_REQUIRED, TaskState.TASK_STATE_AUTH_REQUIRED]);

/** Progress for people: plain lines, plus a live spinner line when stdout is a terminal. */
export class Progress {
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

/** Where following starts and stops. */
export interface FollowOptions {
  /** Print nothing before this step has finished (a subscription replays the task's whole history first). */
  after?: string;
  /** Stop when the task waits for a person or for its caller's authority (a subscription would wait on). */
  untilWaiting?: boolean;
}

/**
 * Follows a task's events, printing steps as they start and finish; records the task id and the last
 * sequence seen. Terminal states are not printed: the caller reports the outcome once, with its reason.
 */
export async function follow(
  events: AsyncIterable<StreamTaskResponse>,
  progress: Progress,
  seen: { taskId: string; sequence: number },
  o: FollowOptions = {},
): Promise<void> {
  const running = new Set<string>();
  let done = 0;
  let printing = o.after === undefined;
  for await (const { event } of events) {
    if (!event) continue;
    seen.taskId ||= event.taskId;
    seen.sequence = Math.max(seen.sequence, event.sequence);
    const e = event.event;
    if (e?.$case === 'stepFinished' && e.stepFinished.stepId === o.after && !printing) {
      printing = true;
      continue;
    }
    if (!printing) continue;
    if (e?.$case === 'planCreated')
      progress.line(`plan ${e.planCreated.plan?.planId}: ${e.planCreated.plan?.steps.map((s) => s.id).join(' -> ')}`);
    if (e?.$case === 'stepStarted') {
      running.add(e.stepStarted.stepId);
      // A retry: the first attempt failed in a way worth another try.
      progress.line(
        `  > ${e.stepStarted.stepId} started${e.stepStarted.attempt > 1 ? ` (attempt ${e.stepStarted.attempt}, retrying)` : ''}`,
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
      if (!TERMINAL.has(state)) progress.line(`task ${seen.taskId}: ${short(state)}`);
      if (o.untilWaiting && WAITING.has(state)) return;
    }
    progress.set(`working: ${done} step(s) done${running.size ? `, running ${[...running].join(', ')}` : ''}`);
  }
}
