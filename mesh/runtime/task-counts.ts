import { TaskState } from '../../gen/agentmesh/v1/task.js';
import { isTerminal, type Store } from '../state/index.js';
import type { MeshMetrics } from '../telemetry/index.js';

/** Counts tasks by state (and pending ones) from the store, at start. */
export async function countStoredTasks(m: MeshMetrics | undefined, store: Store): Promise<void> {
  if (!m) return;
  m.tasks.reset();
  let pending = 0;
  for (const t of await store.tasks.list({})) {
    m.tasks.inc({ state: TaskState[t.state] });
    if (!isTerminal(t.state)) pending++;
  }
  m.pendingTasks.set(pending);
}

/** Moves a task between the state counts (`from` undefined: a new task); `history`: its conversation depth, counted once it ends. */
export function countTransition(
  m: MeshMetrics | undefined,
  from: TaskState | undefined,
  to: TaskState,
  history: number,
): void {
  if (!m || from === to) return;
  if (from !== undefined) m.tasks.dec({ state: TaskState[from] });
  m.tasks.inc({ state: TaskState[to] });
  if (from === undefined) m.pendingTasks.inc();
  if (isTerminal(to) && (from === undefined || !isTerminal(from))) {
    m.pendingTasks.dec();
    m.conversationDepth.observe(history);
  }
}
