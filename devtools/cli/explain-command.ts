import { Explanation } from '../../gen/agentmesh/v1/explain.js';
import { out, parse } from './args.js';
import { CliError } from './cli-error.js';
import { currentUser, MeshConnection } from './connection.js';
import { renderExplanation } from './explain-view.js';
import { findTask } from './task-command.js';

/** `agentmesh explain`: the task's explanation, recursively through its child tasks. */
export async function explain(args: string[]): Promise<number> {
  const { values, positionals } = parse('explain', args, {
    agent: { type: 'string' },
    depth: { type: 'string' },
    json: { type: 'boolean' },
  });
  const [taskId] = positionals;
  if (!taskId) throw new CliError('explain needs a task id: agentmesh explain <task-id>', 2);
  const depth = Number(values.depth ?? 0);
  if (!Number.isInteger(depth) || depth < 0) throw new CliError('--depth is a whole number of levels', 2);
  const conn = new MeshConnection(currentUser(values.user as string | undefined));
  try {
    const { client } = await findTask(conn, taskId, values.agent as string | undefined);
    const { explanation } = await client.explainTask({ taskId, maxDepth: depth });
    if (values.json) out(JSON.stringify(Explanation.toJSON(explanation!)));
    else for (const line of renderExplanation(explanation!)) out(line);
    return 0;
  } finally {
    conn.close();
  }
}
