import type { PlanStep } from '../../gen/agentmesh/v1/plan.js';
import { Code, MeshError } from '../core/index.js';
import type { StepCall, StepResult, StepRunner } from './executor.js';

type KindRunner = { run(call: StepCall): Promise<StepResult> };

/** The runner of each step kind an agent supports (human steps are the executor's own). */
export interface RunnersByKind {
  tool?: KindRunner;
  /** The agent's own tools, run in process: tool steps whose service is `local.service`. */
  local?: { service: string; runner: KindRunner };
  agent?: KindRunner;
  llm?: KindRunner;
}

/** Dispatches each step to the runner of its kind; the circuit breaker key names the collaborator. */
export class StepRunners implements StepRunner {
  constructor(private readonly kinds: RunnersByKind) {}

  collaborator(step: PlanStep): string {
    const t = step.target;
    if (t?.$case === 'tool') return `tool:${t.tool.service}`;
    if (t?.$case === 'agent') return `agent:${t.agent.agent}`;
    if (t?.$case === 'llm') return `llm:${t.llm.modelAlias}`;
    return `${t?.$case ?? 'none'}:${step.id}`;
  }

  run(call: StepCall): Promise<StepResult> {
    const target = call.step.target;
    const kind = target?.$case;
    const local =
      target?.$case === 'tool' && this.kinds.local?.service === target.tool.service
        ? this.kinds.local.runner
        : undefined;
    const runner = local ?? (kind === 'tool' || kind === 'agent' || kind === 'llm' ? this.kinds[kind] : undefined);
    if (!runner)
      throw new MeshError(
        Code.UNIMPLEMENTED,
        `step ${call.step.id}: this agent is not set up for ${kind ?? 'untargeted'} steps`,
      );
    return runner.run(call);
  }
}
