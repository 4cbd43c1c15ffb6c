import { EventEmitter, on } from 'node:events';
import type { StreamTaskResponse } from '../../gen/agentmesh/v1/agent_service.js';
import { isTerminal, type Store, type TaskRecord } from '../state/index.js';
import { WAITING } from './task-changes.js';
import { toEvent } from './task-codec.js';
import type { Run } from './task-ownership.js';

/**
 * Change notices per task within this process, and what is served from them:
 * waiting for a task to settle or for its run to end, and event streams read
 * from the task's append-only log.
 */
export class TaskFeed {
  private readonly feed = new EventEmitter();

  /** `running`: this process's runs by task id (the runtime's own map, read here). */
  constructor(private readonly o: { store: Store; running: Map<string, Run> }) {
    this.feed.setMaxListeners(0);
  }

  /** Wakes this process's followers of the task. */
  changed(taskId: string): void {
    this.feed.emit(taskId);
  }

  /** The tasks someone in this process follows. */
  followed(): string[] {
    // events.on() listens to 'error' on the feed too: never emit that one.
    return this.feed.eventNames().filter((n): n is string => typeof n === 'string' && n !== 'error');
  }

  /** Resolves once the task is terminal or waits for input (or the signal aborts). */
  async settled(taskId: string, signal: AbortSignal): Promise<TaskRecord> {
    const changes = on(this.feed, taskId, { signal });
    try {
      for (;;) {
        const rec = await this.o.store.tasks.get(taskId);
        if (isTerminal(rec.state) || (WAITING.has(rec.state) && !this.o.running.has(taskId))) return rec;
        await changes.next();
      }
    } finally {
      await changes.return?.();
    }
  }

  /** Resolves once no run of the task is in progress in this process (a canceled run may still be unwinding). */
  async idle(taskId: string): Promise<void> {
    const changes = on(this.feed, taskId);
    try {
      while (this.o.running.has(taskId)) await changes.next();
    } finally {
      await changes.return?.();
    }
  }

  /** The task's events after `afterSequence`, then live ones, until it is terminal (or waits for input, when `untilInput`). */
  async *events(
    taskId: string,
    afterSequence: number,
    signal: AbortSignal,
    untilInput = false,
  ): AsyncGenerator<StreamTaskResponse> {
    const changes = on(this.feed, taskId, { signal });
    let last = afterSequence;
    try {
      for (;;) {
        const rec = await this.o.store.tasks.get(taskId);
        for (const e of await this.o.store.events.list(taskId, { afterSequence: last })) {
          last = e.sequence;
          yield toEvent(e, rec.contextId);
        }
        const idle = !this.o.running.has(taskId);
        if (isTerminal(rec.state) || (untilInput && WAITING.has(rec.state) && idle)) return;
        await changes.next();
      }
    } finally {
      await changes.return?.();
    }
  }
}
