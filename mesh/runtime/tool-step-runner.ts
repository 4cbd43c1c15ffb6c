import { ToolServiceService } from '../../gen/agentmesh/v1/tool_service.js';
import type { PlanStep } from '../../gen/agentmesh/v1/plan.js';
import type { MeshClient } from '../client/client.js';
import { Code, MeshError } from '../server/errors.js';
import type { StepCall, StepRunner } from './executor.js';

/** How the runner reaches a tool service: a typed client for its name (resolved through discovery in a service). */
export type ToolClientFor = (service: string) => Promise<MeshClient<typeof ToolServiceService>>;

/**
 * Runs tool steps through ToolService with the step's idempotency key and
 * context; other step kinds need their own runner (agents, models).
 */
export class ToolStepRunner implements StepRunner {
  constructor(
    private readonly agent: string,
    private readonly clientFor: ToolClientFor,
  ) {}

  collaborator(step: PlanStep): string {
    return step.target?.$case === 'tool' ? `tool:${step.target.tool.service}` : `${step.target?.$case ?? 'none'}:${step.id}`;
  }

  async run(call: StepCall): Promise<{ output: unknown }> {
    const target = call.step.target;
    if (target?.$case !== 'tool') throw new MeshError(Code.UNIMPLEMENTED, `step ${call.step.id}: ${target?.$case ?? 'no'} steps are not supported by this agent`);
    const client = await this.clientFor(target.tool.service);
    const [taskId = ''] = call.idempotencyKey.split(':');
    const answer = await client.invokeTool(
      {
        tool: target.tool.tool,
        arguments: call.args,
        idempotencyKey: call.idempotencyKey,
        context: { taskId, contextId: '', stepId: call.step.id, attempt: call.attempt, agent: this.agent },
      },
      { signal: call.signal },
    );
    return { output: answer.result };
  }
}
