import { AgentServiceService } from '../../gen/agentmesh/v1/agent_service.js';
import { out, parse, type Values } from './args.js';
import { CliError } from './cli-error.js';
import { currentUser, MeshConnection } from './connection.js';
import { runTask, type TaskOptions } from './task-command.js';

/** --timeout in milliseconds (default 600 s). */
export function timeoutOf(values: Values): number {
  const seconds = Number(values.timeout ?? 600);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new CliError('--timeout is a number of seconds', 2);
  return seconds * 1000;
}

/** The input object given on the command line. */
function inputOf(text: string): Record<string, unknown> {
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch (err) {
    throw new CliError(`the input is not JSON: ${(err as Error).message} (quote it: '{"customerId":"C-1001"}')`, 2);
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input))
    throw new CliError('the input must be a JSON object', 2);
  return input as Record<string, unknown>;
}

/** `agentmesh task`: with an input, or one of the agent's examples; without either, lists the examples. */
export async function task(args: string[]): Promise<number> {
  const { values, positionals } = parse('task', args, {
    example: { type: 'string' },
    skill: { type: 'string' },
    text: { type: 'string' },
    json: { type: 'boolean' },
    'no-input': { type: 'boolean' },
    timeout: { type: 'string' },
  });
  const [agent, inputText] = positionals;
  if (!agent)
    throw new CliError(
      'task needs an agent: agentmesh task <namespace/name> <input-json> (agentmesh agents lists them)',
      2,
    );
  const timeoutMs = timeoutOf(values);
  const conn = new MeshConnection(currentUser(values.user as string | undefined));
  try {
    conn.service(agent, 'agent');
    const o: TaskOptions = {
      skill: values.skill as string | undefined,
      text: values.text as string | undefined,
      json: Boolean(values.json),
      noInput: Boolean(values['no-input']) || !process.stdin.isTTY,
      timeoutMs,
    };
    if (values.example === undefined && inputText !== undefined)
      return await runTask(conn, agent, inputOf(inputText), o);
    const { card } = await conn.client(AgentServiceService, agent, 'user').getAgentCard({});
    const examples = (card?.skills ?? [])
      .filter((s) => !o.skill || s.id === o.skill)
      .flatMap((s) => s.examples.map((e) => ({ skill: s.id, e })));
    if (values.example === undefined) {
      // No input: show what to paste, on stdout (it is what was asked for), and exit as a usage error.
      out(`task needs an input: agentmesh task ${agent} '<input-json>' or --example N. ${agent}'s examples:`);
      examples.forEach((x, i) =>
        out(
          `  ${i + 1}. ${x.e.title} (skill ${x.skill})\n     --example ${i + 1}   or   '${JSON.stringify(x.e.input ?? {})}'`,
        ),
      );
      return 2;
    }
    const picked = examples[Number(values.example) - 1];
    if (!picked)
      throw new CliError(
        `--example ${String(values.example)}: ${agent} has ${examples.length} example(s): ${examples.map((x, i) => `${i + 1}. ${x.e.title}`).join('; ')}`,
        2,
      );
    const input = (picked.e.input ?? {}) as Record<string, unknown>;
    if (!o.json) out(`example ${String(values.example)}: ${picked.e.title}\ninput: ${JSON.stringify(input)}`);
    return await runTask(conn, agent, input, {
      ...o,
      skill: picked.skill,
      text: o.text ?? (picked.e.text || undefined),
    });
  } finally {
    conn.close();
  }
}
