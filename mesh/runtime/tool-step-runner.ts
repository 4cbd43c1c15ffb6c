import type { ToolServiceService } from '../../gen/agentmesh/v1/tool_service.js';
import { Code, MeshError } from '../core/index.js';
import type { Choice, Connect } from './collaborators.js';
import type { StepCall, StepResult } from './executor.js';
import type { ExternalToolServer, McpStepRunner } from './mcp/mcp-step-runner.js';

/** External MCP servers among the tool services: which names they are, and the runner that calls them. */
export interface ExternalTools {
  /** One lookup: the external MCP server under `name`, else the choice to connect to (undefined: connect finds it). */
  find(name: string): Promise<{ external?: ExternalToolServer; choice?: Choice }>;
  runner: Pick<McpStepRunner, 'run'>;
  /** The access token of the caller the task runs for, while this process holds it (TOKEN_EXCHANGE). */
  authorityFor(taskId: string): string | undefined;
}

/**
 * Runs tool steps through ToolService with the step's idempotency key and context, using this
 * agent's own token. A service the registry describes as an external MCP server is called through
 * the MCP client instead (mcp/mcp-step-runner.ts).
 */
export class ToolStepRunner {
  constructor(
    private readonly agent: string,
    private readonly connect: Connect<typeof ToolServiceService>,
    private readonly external?: ExternalTools,
  ) {}

  async run(call: StepCall): Promise<StepResult> {
    const target = call.step.target;
    if (target?.$case !== 'tool') throw new MeshError(Code.INTERNAL, `step ${call.step.id} is not a tool step`);
    const located = await this.external?.find(target.tool.service);
    if (located?.external) {
      const external = this.external!;
      return external.runner.run(call, located.external, () => external.authorityFor(call.taskId));
    }
    const { client, choice } = await this.connect(target.tool.service, located?.choice);
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
