import { randomUUID } from 'node:crypto';
import { Message, Role } from '../../gen/agentmesh/v1/task.js';

/** The request message: the input object as a data part, plus the text when given. */
export function requestMessage(input: Record<string, unknown>, text: string | undefined): Message {
  return Message.fromPartial({
    messageId: randomUUID(),
    role: Role.ROLE_USER,
    parts: [
      ...(text ? [{ content: { $case: 'text' as const, text } }] : []),
      { content: { $case: 'data' as const, data: input } },
    ],
  });
}

/** An answer as typed: a JSON object is data, anything else (a choice) is text. */
export function answerMessage(reply: string): Message {
  let data: unknown;
  try {
    data = JSON.parse(reply);
  } catch {
    data = undefined;
  }
  if (typeof data === 'object' && data !== null) return requestMessage(data as Record<string, unknown>, undefined);
  const message = requestMessage({}, reply);
  message.parts = message.parts.filter((p) => p.content?.$case === 'text');
  return message;
}
