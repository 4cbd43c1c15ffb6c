import { ListTasksRequest } from '../../../gen/agentmesh/v1/agent_service.js';
import { Task } from '../../../gen/agentmesh/v1/task.js';
import { httpErrorOf } from './http-errors.js';
import type { AgentHandle, Caller, UserCalls } from './user-calls.js';

/** A task waiting for the person's answer, and the agent that holds it. */
export interface WaitingTask {
  agent: string;
  task: Task;
}

/** An agent whose queue could not be read: the person sees the others and why this one is missing. */
export interface AgentWarning {
  agent: string;
  code: string;
  message: string;
}

/** What waits for a person across the mesh. */
export interface Inbox {
  tasks: WaitingTask[];
  warnings: AgentWarning[];
  /** How many agents were asked. */
  agents: number;
}

/** Registry pages read at most (1000 agents each). */
const MAX_REGISTRY_PAGES = 10;
/** Tasks read per agent at most: a queue longer than this is a problem to report, not to page through here. */
const MAX_TASKS_PER_AGENT = 300;

/** Every agent card the registry lists for this person, page by page. */
async function listedAgents(calls: UserCalls, user: Caller) {
  const cards = [];
  let pageToken = '';
  for (let page = 0; page < MAX_REGISTRY_PAGES; page++) {
    const res = await calls
      .registry()
      .listAgents(
        { namespace: '', pageSize: 1000, pageToken, includeInactive: false },
        await calls.as(user, calls.registryName),
      );
    cards.push(...res.agents);
    pageToken = res.nextPageToken;
    if (!pageToken) break;
  }
  return cards;
}

/** One agent's tasks waiting for this person (ListTasks waiting_for_me, asked with their token). */
async function waitingOn(calls: UserCalls, user: Caller, agent: AgentHandle): Promise<Inbox> {
  const tasks: WaitingTask[] = [];
  const warnings: AgentWarning[] = [];
  let pageToken = '';
  do {
    const res = await agent.client.listTasks(
      ListTasksRequest.fromPartial({ waitingForMe: true, pageSize: 100, pageToken }),
      await calls.as(user, agent.name),
    );
    tasks.push(...res.tasks.map((task) => ({ agent: agent.name, task })));
    pageToken = res.nextPageToken;
    if (pageToken && tasks.length >= MAX_TASKS_PER_AGENT) {
      warnings.push({
        agent: agent.name,
        code: 'RESOURCE_EXHAUSTED',
        message: `${res.totalSize} tasks wait for you on ${agent.name}: the ${tasks.length} newest are shown`,
      });
      break;
    }
  } while (pageToken);
  return { tasks, warnings, agents: 1 };
}

const time = (d: Date | undefined) => d?.getTime() ?? Number.POSITIVE_INFINITY;

/**
 * What waits for `user` across every agent the registry lists for them (or
 * only `onlyAgent`): each agent is asked, in parallel and with the person's
 * own token, for the tasks they may answer now — the agents decide who may
 * answer, the console only gathers. An agent that fails (down, refusing,
 * too old for ListTasks) becomes a warning beside the others' tasks. The
 * most urgent come first: the nearest deadline, then the longest waiting.
 */
export async function inboxOf(calls: UserCalls, user: Caller, onlyAgent?: string): Promise<Inbox> {
  const handles: (AgentHandle | AgentWarning)[] = onlyAgent
    ? [await calls.agent(user, onlyAgent)]
    : (await listedAgents(calls, user)).map((card) => {
        try {
          return calls.agentOf(user, card);
        } catch (err) {
          const e = httpErrorOf(err);
          return { agent: card.name, code: e.code, message: e.message };
        }
      });
  const parts = await Promise.all(
    handles.map(async (h): Promise<Inbox> => {
      if (!('client' in h)) return { tasks: [], warnings: [h], agents: 1 };
      try {
        return await waitingOn(calls, user, h);
      } catch (err) {
        const e = httpErrorOf(err);
        return { tasks: [], warnings: [{ agent: h.name, code: e.code, message: e.message }], agents: 1 };
      }
    }),
  );
  const tasks = parts
    .flatMap((p) => p.tasks)
    .sort(
      (a, b) =>
        time(a.task.status?.inputRequest?.expiresAt) - time(b.task.status?.inputRequest?.expiresAt) ||
        time(a.task.status?.timestamp) - time(b.task.status?.timestamp),
    );
  return { tasks, warnings: parts.flatMap((p) => p.warnings), agents: handles.length };
}

/** The inbox as the browser reads it (proto JSON tasks). */
export function inboxJson(inbox: Inbox) {
  return {
    tasks: inbox.tasks.map((t) => ({ agent: t.agent, task: Task.toJSON(t.task) })),
    warnings: inbox.warnings,
    agents: inbox.agents,
  };
}
