import { Metadata } from '@grpc/grpc-js';
import type { ToolCard } from '../../gen/agentmesh/v1/card.js';
import type { ToolServiceService } from '../../gen/agentmesh/v1/tool_service.js';
import type { CallContext } from '../core/index.js';
import { Code, MeshError } from '../core/index.js';
import type { ServiceImplementation } from '../core/index.js';
import type { Logger } from '../telemetry/index.js';
import type { StepCall, StepResult } from './executor.js';

const PATH = '/agentmesh.v1.ToolService/InvokeTool';

/**
 * Runs tool steps addressed to the agent itself (its local tools) in
 * process, through the same ToolService implementation a tool service uses:
 * schemas, idempotency keys, metrics and audit behave exactly alike, minus
 * the network hop.
 */
export class LocalToolRunner {
  constructor(
    readonly card: ToolCard,
    private readonly service: ServiceImplementation<typeof ToolServiceService>,
    private readonly log: Logger,
  ) {}

  async run(call: StepCall): Promise<StepResult> {
    const target = call.step.target;
    if (target?.$case !== 'tool') throw new MeshError(Code.INTERNAL, `step ${call.step.id} is not a tool step`);
    const request = {
      tool: target.tool.tool,
      arguments: call.args,
      idempotencyKey: call.idempotencyKey,
      context: {
        taskId: call.taskId,
        contextId: '',
        stepId: call.step.id,
        attempt: call.attempt,
        agent: this.card.name,
      },
    };
    const ctx: CallContext = {
      service: 'agentmesh.v1.ToolService',
      method: 'InvokeTool',
      path: PATH,
      kind: 'unary',
      request,
      metadata: new Metadata(),
      peer: 'in-process',
      signal: call.signal,
      deadline: new Date(call.deadline),
      timeRemainingMs: () => Math.max(0, call.deadline - Date.now()),
      trailer: new Metadata(),
      log: this.log,
      bindLog: () => undefined,
      identity: { spiffeId: this.card.identity, source: 'none' },
      // The agent calls its own tools as itself.
      principal: {
        peer: { spiffeId: this.card.identity, source: 'none' },
        subject: this.card.name,
        clientId: this.card.name,
        scopes: [],
        roles: [],
        actors: [],
        token: '',
        claims: {},
      },
      taskId: call.taskId,
      changedState: false,
      call: undefined as never,
    };
    const answer = await this.service.invokeTool!(request, ctx);
    const choice = {
      name: this.card.name,
      version: this.card.version,
      address: 'in-process',
      reasons: ['a local tool of this agent'],
      score: 0,
      alternatives: [],
    };
    return { output: answer.result, choice };
  }
}
