import type { ToolServiceService } from '../../gen/agentmesh/v1/tool_service.js';
import { Code, MeshError } from '../core/index.js';
import type { Connect } from './collaborators.js';
import type { StepCall, StepResult } from './executor.js';

/** Runs tool steps through ToolService with the step's idempotency key and context, using this agent's own token. */
export class ToolStepRunner {
  constructor(
    private readonly agent: string,
    private readonly connect: Connect<typeof ToolServiceService>,
  ) {}

  async run(call: StepCall): Promise<StepResult> {
    const target = call.step.target;
    if (target?.$case !== 'tool') throw new MeshError(Code.INTERNAL, `step ${call.step.id} is not a tool step`);
    const { client, choice } = await this.connect(target.tool.service);
    const answer = await client.invokeTool(
      {
        tool: target.tool.tool,
        arguments: call.args,
        idempotencyKey: call.idempotencyKey,
        context: { taskId: call.taskId, contextId: '', stepId: call.step.id, attempt: call.attempt, agent: this.agent },
      },
      { signal: call.signal, deadlineMs: Math.max(1, call.deadline - Date.now()) },
    );
    return { output: answer.result, choice };
  }
}
