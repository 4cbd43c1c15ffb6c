// `agentmesh inbox`: what waits for me, across every agent the registry lists. Each agent answers
// for its own tasks (ListTasks waiting_for_me); an agent that cannot answer is a warning line, so
// one agent down never hides the others' approvals.
import { ListTasksRequest } from '../../gen/agentmesh/v1/agent_service.js';
import type { AgentCard } from '../../gen/agentmesh/v1/card.js';
import { Task } from '../../gen/agentmesh/v1/task.js';
import { Code, isMeshError } from '../../mesh/index.js';
import { out, parse } from './args.js';
import { approvalCount, deadlineText, isApproval } from './approval-view.js';
import { CliError } from './cli-error.js';
import { currentUser, MeshConnection } from './connection.js';
import { AGENT_CALL_MS, clientOf, listAgents } from './mesh-agents.js';

/** A task waiting for the user, with the agent that holds it. */
export interface InboxItem {
  agent: string;
  task: Task;
}

/** At most this many pages of one agent's inbox (100 tasks each): a list for people, not an export. */
const MAX_PAGES = 10;

/** The tasks of one agent that wait for the caller, every page. */
async function inboxOf(conn: MeshConnection, card: AgentCard): Promise<InboxItem[]> {
  const client = clientOf(conn, card);
  const items: InboxItem[] = [];
  let pageToken = '';
  for (let page = 0; page < MAX_PAGES; page++) {
    const r = await client.listTasks(ListTasksRequest.fromPartial({ waitingForMe: true, pageSize: 100, pageToken }), {
      deadlineMs: AGENT_CALL_MS,
    });
    items.push(...r.tasks.map((task) => ({ agent: card.name, task })));
    pageToken = r.nextPageToken;
    if (!pageToken) break;
  }
  return items;
}

/** Every agent's inbox at once; failures come back as one-line warnings, not as errors. */
export async function collectInbox(
  conn: MeshConnection,
): Promise<{ items: InboxItem[]; warnings: string[]; agents: number }> {
  const cards = await listAgents(conn);
  const results = await Promise.allSettled(cards.map((card) => inboxOf(conn, card)));
  const items: InboxItem[] = [];
  const warnings: string[] = [];
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') items.push(...r.value);
    else {
      const err = r.reason as Error;
      // grpc-js ends an unreachable server's message with an empty "Resolution note:".
      const why = String(err.message ?? err)
        .split('\n')[0]!
        .replace(/\s*Resolution note:\s*$/, '');
      warnings.push(`${cards[i]!.name}: ${why}${isMeshError(err) ? ` (${Code[err.code]})` : ''}`);
    }
  });
  // Newest status change first, across agents, as each agent orders its own.
  const at = (t: Task) => t.status?.timestamp?.getTime() ?? 0;
  items.sort((a, b) => at(b.task) - at(a.task));
  return { items, warnings, agents: cards.length };
}

/** The lines of one waiting task in the list. */
function itemLines({ agent, task }: InboxItem): string[] {
  const r = task.status?.inputRequest;
  if (!r) return [`${agent}  ${task.id}  waits for input`];
  const kind = isApproval(r) ? `approval, ${approvalCount(r)}` : 'question';
  const choices = r.choices.length ? ` [${r.choices.join(' / ')}]` : '';
  return [
    `${agent}  ${task.id}  step ${r.stepId} (${kind})  for ${task.subject}  deadline ${deadlineText(r.expiresAt)}`,
    `    ${r.prompt}${choices}`,
  ];
}

/** `agentmesh inbox [list]`: the tasks waiting for the user across the mesh. */
async function list(args: string[]): Promise<number> {
  const { values, positionals } = parse('inbox', args, { json: { type: 'boolean' } });
  if (positionals.length) throw new CliError(`inbox list takes no arguments (got ${positionals.join(' ')})`, 2);
  const conn = new MeshConnection(currentUser(values.user as string | undefined));
  try {
    const { items, warnings, agents } = await collectInbox(conn);
    for (const w of warnings) process.stderr.write(`agentmesh: warning: ${w}\n`);
    if (values.json) out(JSON.stringify(items.map((i) => ({ agent: i.agent, task: Task.toJSON(i.task) }))));
    else if (!items.length)
      out(`nothing waits for ${conn.user}${warnings.length ? ' on the agents that answered' : ''}`);
    else {
      out(`${items.length} task${items.length > 1 ? 's wait' : ' waits'} for ${conn.user}:`);
      for (const item of items) for (const line of itemLines(item)) out(line);
      out('see one with: agentmesh inbox show <agent> <task-id>');
    }
    // Every agent failed: the list says nothing, which a script must not take for "nothing waits".
    return agents > 0 && warnings.length === agents ? 1 : 0;
  } finally {
    conn.close();
  }
}

/** `agentmesh inbox`: list (default), show, answer. */
export async function inbox(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'show') return (await import('./inbox-show.js')).show(rest);
  if (sub === 'answer') return (await import('./inbox-answer.js')).answerFromInbox(rest);
  if (sub === 'list') return list(rest);
  if (sub === undefined || sub.startsWith('-')) return list(args);
  throw new CliError(`inbox has no subcommand "${sub}": list, show or answer (see agentmesh inbox --help)`, 2);
}
