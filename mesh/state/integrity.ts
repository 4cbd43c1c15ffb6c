import type { Kysely } from 'kysely';
import type { Database } from './tables.js';

/**
 * Checks the invariants the store maintains, on either backend: every current version has
 * a complete history 1..version whose last entry matches it, and every per-task log
 * (events, step transitions) runs 1..counter without gaps. A crash that tore a transaction
 * apart would show up here. Returns one line per problem; empty means consistent.
 */
export async function logicalProblems(db: Kysely<Database>): Promise<string[]> {
  const problems: string[] = [];

  const tasks = await db
    .selectFrom('tasks as t')
    .leftJoin('task_versions as last', (j) =>
      j.onRef('last.task_id', '=', 't.id').onRef('last.version', '=', 't.version'),
    )
    .select((eb) => [
      't.id',
      eb('last.state', '=', eb.ref('t.state')).as('state_matches'),
      eb
        .selectFrom('task_versions as v')
        .select((s) => s.fn.countAll<number>().as('n'))
        .whereRef('v.task_id', '=', 't.id')
        .as('versions'),
      eb
        .selectFrom('task_events as e')
        .select((s) => s.fn.countAll<number>().as('n'))
        .whereRef('e.task_id', '=', 't.id')
        .as('events'),
      eb
        .selectFrom('task_events as e')
        .select((s) => s.fn.max('e.sequence').as('m'))
        .whereRef('e.task_id', '=', 't.id')
        .as('last_event'),
      eb
        .selectFrom('step_transitions as st')
        .select((s) => s.fn.countAll<number>().as('n'))
        .whereRef('st.task_id', '=', 't.id')
        .as('steps'),
      eb
        .selectFrom('step_transitions as st')
        .select((s) => s.fn.max('st.sequence').as('m'))
        .whereRef('st.task_id', '=', 't.id')
        .as('last_step'),
      't.version',
      't.event_seq',
      't.step_seq',
    ])
    .execute();
  for (const t of tasks) {
    // pg returns count(*) as a string (bigint) and SQLite as a number; compare as numbers.
    if (Number(t.versions) !== t.version || !t.state_matches)
      problems.push(`task ${t.id}: history does not end at version ${t.version}`);
    if (Number(t.events) !== t.event_seq || Number(t.last_event ?? 0) !== t.event_seq)
      problems.push(`task ${t.id}: event log has gaps`);
    if (Number(t.steps) !== t.step_seq || Number(t.last_step ?? 0) !== t.step_seq)
      problems.push(`task ${t.id}: step log has gaps`);
  }

  const conversations = await db
    .selectFrom('conversations as c')
    .leftJoin('conversation_versions as last', (j) =>
      j.onRef('last.context_id', '=', 'c.context_id').onRef('last.version', '=', 'c.version'),
    )
    .select((eb) => [
      'c.context_id',
      'c.version',
      eb('last.state', '=', eb.ref('c.state')).as('state_matches'),
      eb
        .selectFrom('conversation_versions as v')
        .select((s) => s.fn.countAll<number>().as('n'))
        .whereRef('v.context_id', '=', 'c.context_id')
        .as('versions'),
    ])
    .execute();
  for (const c of conversations) {
    if (Number(c.versions) !== c.version || !c.state_matches) {
      problems.push(`conversation ${c.context_id}: history does not end at version ${c.version}`);
    }
  }

  const orphans = await db
    .selectFrom('task_requests as r')
    .leftJoin('tasks as t', 't.id', 'r.task_id')
    .select(['r.request_id', 'r.task_id'])
    .where('t.id', 'is', null)
    .execute();
  for (const o of orphans) problems.push(`request ${o.request_id}: task ${o.task_id} is missing`);
  return problems;
}
