import { randomUUID } from 'node:crypto';
import { context, propagation, trace } from '@opentelemetry/api';
import type { SendTaskRequest } from '../../gen/agentmesh/v1/agent_service.js';
import type { AgentCard } from '../../gen/agentmesh/v1/card.js';
import { Message } from '../../gen/agentmesh/v1/task.js';
import type { Principal } from '../core/index.js';
import { Code, MeshError } from '../core/index.js';
import { compileSchema } from './schema-validator.js';
import type { TaskData } from './task-codec.js';

/** A task as a valid SendTask request makes it, before it is stored. */
export interface NewTask {
  id: string;
  contextId: string;
  data: TaskData;
}

/**
 * Checks SendTask requests against an agent's card (request id, skill, the
 * skill's input schema, the message size limit) and turns a valid one into
 * the task it asks for; a bad one is refused with INVALID_ARGUMENT, or
 * RESOURCE_EXHAUSTED for a message over the limit.
 */
export class SendTaskRequests {
  private readonly skills: Map<string, ReturnType<typeof compileSchema>>;

  constructor(private readonly o: { card: AgentCard; maxInputBytes?: number }) {
    this.skills = new Map(o.card.skills.map((s) => [s.id, compileSchema(s.inputSchema)]));
  }

  /** The task a request by `caller` asks for, once the request is checked. */
  parse(req: SendTaskRequest, caller: Principal): NewTask {
    if (!req.requestId)
      throw new MeshError(Code.INVALID_ARGUMENT, 'request_id: required (a unique id per request makes retries safe)');
    if (req.requestId.length > 128) throw new MeshError(Code.INVALID_ARGUMENT, 'request_id: at most 128 characters');
    const skillId = req.skillId || (this.o.card.skills.length === 1 ? this.o.card.skills[0]!.id : '');
    const check = this.skills.get(skillId);
    if (!check)
      throw new MeshError(
        Code.INVALID_ARGUMENT,
        `skill_id: ${req.skillId ? `unknown skill ${req.skillId}` : 'required: this agent has several skills'}`,
      );
    const parts = req.message?.parts ?? [];
    if (!parts.length) throw new MeshError(Code.INVALID_ARGUMENT, 'message.parts: at least one part is required');
    const size = Buffer.byteLength(JSON.stringify(Message.toJSON(req.message!)));
    if (size > (this.o.maxInputBytes ?? 256 * 1024))
      throw new MeshError(
        Code.RESOURCE_EXHAUSTED,
        `message: ${size} bytes is over the ${this.o.maxInputBytes ?? 256 * 1024}-byte limit`,
        { permanent: true }, // the same message is always too big: not retried, not a breaker failure
      );
    const text = parts.flatMap((p) => (p.content?.$case === 'text' ? [p.content.text] : [])).join('\n');
    const data = parts.find((p) => p.content?.$case === 'data')?.content;
    const value: unknown = data?.$case === 'data' ? data.data : {};
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new MeshError(Code.INVALID_ARGUMENT, 'message.parts: the data part must be a JSON object');
    }
    const input = value as Record<string, unknown>;
    check.assert(input, 'input');
    const id = randomUUID();
    const traceContext: Record<string, string> = {};
    propagation.inject(context.active(), traceContext);
    const contextId = req.message!.contextId || randomUUID();
    const requested = req.configuration?.timeout;
    const timeoutMs =
      requested && (requested.seconds > 0 || requested.nanos > 0)
        ? requested.seconds * 1000 + Math.ceil(requested.nanos / 1e6)
        : undefined;
    const taskData: TaskData = {
      agent: this.o.card.name,
      skillId,
      subject: caller.subject,
      requestId: req.requestId,
      text,
      input,
      status: {},
      artifacts: [],
      history: [Message.toJSON({ ...req.message!, taskId: id, contextId })],
      traceId: trace.getActiveSpan()?.spanContext().traceId ?? '',
      traceContext,
      ...(caller.actors[0] ? { actor: caller.actors[0], actors: caller.actors } : {}),
      ...(timeoutMs ? { timeoutMs } : {}),
    };
    return { id, contextId, data: taskData };
  }
}
