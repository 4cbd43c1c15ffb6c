// `agentmesh inbox show`: everything an approver needs to decide, in one place — the question,
// who may answer, who has, the deadline, and the evidence: the task's explanation so far.
import { Explanation } from '../../gen/agentmesh/v1/explain.js';
import { Task, TaskState } from '../../gen/agentmesh/v1/task.js';
import { isMeshError } from '../../mesh/index.js';
import { out, parse } from './args.js';
import { approvalCount, approvalLine, deadlineText, isApproval, whoMayAnswer } from './approval-view.js';
import { CliError } from './cli-error.js';
import { currentUser, MeshConnection } from './connection.js';
import { renderExplanation } from './explain-view.js';
import { AGENT_CALL_MS, agentClient } from './mesh-agents.js';
import { getTaskOf } from './inbox-answer.js';
import { short } from './task-progress.js';

/** The lines that describe a task's human step and its answers, for people. */
export function requestLines(task: Task): string[] {
  const lines: string[] = [];
  const r = task.status?.inputRequest;
  const waiting = task.status?.state === TaskState.TASK_STATE_INPUT_REQUIRED && r;
  lines.push(
    `task ${task.id} on ${task.agent}: ${short(task.status?.state ?? 0)}  for ${task.subject}${waiting ? `  step ${r.stepId}` : ''}`,
  );
  if (waiting) {
    lines.push(`question: ${r.prompt}`);
    if (r.choices.length) lines.push(`choices: ${r.choices.join(' / ')}`);
    else if (r.inputSchema) lines.push(`answer: JSON matching ${JSON.stringify(r.inputSchema)}`);
    else lines.push('answer: free text');
    lines.push(`who may answer: ${whoMayAnswer(r, task.subject)}`);
    if (isApproval(r)) lines.push(`approvals so far: ${approvalCount(r)}`);
    for (const a of r.approvals) lines.push(`  ${approvalLine(a)}`);
    lines.push(`deadline: ${deadlineText(r.expiresAt)}`);
  } else {
    lines.push(`it waits for no answer now`);
  }
  // Answers to steps already settled (the current step's are listed above).
  const settled = task.approvals.filter((a) => !waiting || a.stepId !== r.stepId);
  if (settled.length) lines.push('answered:');
  for (const a of settled) lines.push(`  ${a.stepId}: ${approvalLine(a)}`);
  return lines;
}

/** `agentmesh inbox show <agent> <task-id>`: the question, who may answer, approvals so far, deadline and evidence. */
export async function show(args: string[]): Promise<number> {
  const { values, positionals } = parse('inbox', args, { json: { type: 'boolean' } });
  const [agent, taskId, extra] = positionals;
  if (!agent || !taskId || extra !== undefined)
    throw new CliError('inbox show needs an agent and a task id: agentmesh inbox show <agent> <task-id>', 2);
  const conn = new MeshConnection(currentUser(values.user as string | undefined));
  try {
    const client = await agentClient(conn, agent);
    const task = await getTaskOf(client, agent, taskId);
    // The evidence: an approver reads this task's explanation (child tasks show as gaps).
    let explanation: Explanation | undefined;
    let missing = '';
    try {
      explanation = (await client.explainTask({ taskId, maxDepth: 0 }, { deadlineMs: AGENT_CALL_MS })).explanation;
    } catch (err) {
      if (!isMeshError(err)) throw err;
      missing = err.message.split('\n')[0]!;
    }
    if (values.json) {
      out(
        JSON.stringify({
          agent,
          task: Task.toJSON(task),
          explanation: explanation ? Explanation.toJSON(explanation) : null,
        }),
      );
      return 0;
    }
    for (const line of requestLines(task)) out(line);
    out('evidence (the explanation so far):');
    if (explanation) for (const line of renderExplanation(explanation, '  ')) out(line);
    else out(`  not available: ${missing}`);
    if (task.status?.state === TaskState.TASK_STATE_INPUT_REQUIRED)
      out(`answer with: agentmesh inbox answer ${agent} ${task.id} <answer>`);
    return 0;
  } finally {
    conn.close();
  }
}
