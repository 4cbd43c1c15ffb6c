import { randomUUID } from 'node:crypto';
import { Message, Role } from '../../gen/agentmesh/v1/task.js';

/** A user's message to an agent: the input object as a data part, after the text when there is one. */
export function requestMessage(input: Record<string, unknown>, text?: string): Message {
  return Message.fromPartial({
    messageId: randomUUID(),
    role: Role.ROLE_USER,
    parts: [
      ...(text ? [{ content: { $case: 'text' as const, text } }] : []),
      { content: { $case: 'data' as const, data: input } },
    ],
  });
}
