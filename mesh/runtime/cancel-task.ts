import { TaskState } from '../../gen/agentmesh/v1/task.js';
import type { Principal } from '../core/index.js';
import { Code, isMeshError, MeshError } from '../core/index.js';
import { isTerminal, type Store, type TaskRecord } from '../state/index.js';
import type { TaskChanges } from './task-changes.js';
import { statusEvent } from './task-codec.js';
import type { Run } from './task-ownership.js';

/** What a cancel works with: the store, this process's runs by task id, and the runtime's changes. */
export interface CancelTaskOptions {
  store: Store;
  running: Map<string, Run>;
  changes: TaskChanges;
}

/** Cancels a task that is not terminal: outstanding steps are stopped. */
export async function cancelTask(
  o: CancelTaskOptions,
  taskId: string,
  reason: string,
  caller: Principal,
): Promise<TaskRecord> {
  const rec = await o.store.tasks.get(taskId);
  if (isTerminal(rec.state))
    throw new MeshError(Code.FAILED_PRECONDITION, `task ${taskId} is already ${TaskState[rec.state]}`);
  o.running.get(taskId)?.controller.abort(new MeshError(Code.CANCELLED, `canceled by ${caller.subject}`));
  // The run may be writing its last transition right now: retry the compare-and-set a few times.
  for (let attempt = 1; ; attempt++) {
    const latest = await o.store.tasks.get(taskId);
    if (latest.state === TaskState.TASK_STATE_CANCELED) return latest;
    try {
      // The lease is revoked in the same write: the run (on whichever replica) can write nothing more.
      return await o.changes.change(
        latest,
        TaskState.TASK_STATE_CANCELED,
        [statusEvent(TaskState.TASK_STATE_CANCELED, reason || `canceled by ${caller.subject}`)],
        undefined,
        { revoke: true },
      );
    } catch (err) {
      if (!isMeshError(err) || err.code !== Code.ABORTED || attempt >= 5) throw err;
    }
  }
}
