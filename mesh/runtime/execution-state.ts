import { StepExecution } from '../../gen/agentmesh/v1/explain.js';
import { StepState } from '../../gen/agentmesh/v1/plan.js';
import type { Store } from '../state/index.js';
import type { ExecutionState } from './executor.js';
import { interruptedSteps } from './interrupted-steps.js';

/**
 * What a task's earlier runs left for the next one (the executor resumes from
 * it): outputs of finished steps, skipped ones, attempts cut short by a crash
 * (and whether their request went out), and people's answers.
 */
export async function executionStateOf(store: Store, taskId: string): Promise<ExecutionState> {
  const state: ExecutionState = {
    outputs: {},
    skipped: [],
    interrupted: {},
    interruptedKeys: {},
    interruptedSent: [],
    answers: {},
  };
  const finished = new Set<string>();
  for (const r of await store.records.list(taskId)) {
    if (r.kind === 'step') {
      const e = StepExecution.fromJSON(r.record);
      finished.add(e.stepId);
      if (e.state === StepState.STEP_STATE_SUCCEEDED) state.outputs[e.stepId] = e.output;
      if (e.state === StepState.STEP_STATE_SKIPPED) state.skipped.push(e.stepId);
    }
    if (r.kind === 'answer') Object.assign(state.answers, r.record as object);
  }
  const cut = interruptedSteps(await store.steps.list(taskId), finished);
  state.interrupted = cut.attempts;
  state.interruptedKeys = cut.keys;
  state.interruptedSent = cut.sent;
  return state;
}
