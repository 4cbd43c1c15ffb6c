import { Message } from '../../gen/agentmesh/v1/task.js';
import { requestMessage } from '../../mesh/index.js';

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
