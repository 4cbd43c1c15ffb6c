import { parse } from './args.js';
import { CliError } from './cli-error.js';
import { currentUser, MeshConnection } from './connection.js';
import { timeoutOf } from './send-task.js';
import { answerTask, findTask } from './task-command.js';

/** `agentmesh answer`: answers a task that waits for a person and follows it to its outcome. */
export async function answer(args: string[]): Promise<number> {
  const { values, positionals } = parse('answer', args, {
    agent: { type: 'string' },
    json: { type: 'boolean' },
    'no-input': { type: 'boolean' },
    timeout: { type: 'string' },
  });
  const [taskId, reply] = positionals;
  if (!taskId || reply === undefined)
    throw new CliError('answer needs a task id and the answer: agentmesh answer <task-id> <answer>', 2);
  const timeoutMs = timeoutOf(values);
  const conn = new MeshConnection(currentUser(values.user as string | undefined));
  try {
    const { agent, client, task } = await findTask(conn, taskId, values.agent as string | undefined);
    return await answerTask(agent, client, task, reply, {
      json: Boolean(values.json),
      noInput: Boolean(values['no-input']) || !process.stdin.isTTY,
      timeoutMs,
    });
  } finally {
    conn.close();
  }
}
