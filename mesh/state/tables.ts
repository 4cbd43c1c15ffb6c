import type { ColumnType, Generated } from 'kysely';

/**
 * A JSON column: jsonb on PostgreSQL, text on SQLite. Written as a JSON string on both;
 * read back raw (parsed object or string) and decoded by the backend's codec.
 */
export type JsonColumn = ColumnType<unknown, string, string>;
/** A timestamp column: timestamptz on PostgreSQL, ISO-8601 text on SQLite; written as ISO text. */
export type TimeColumn = ColumnType<unknown, string, string>;
/** A nullable JSON column. */
export type NullableJsonColumn = ColumnType<unknown, string | null, string | null>;
/** A nullable timestamp column. */
export type NullableTimeColumn = ColumnType<unknown, string | null, string | null>;

/** The current state of each conversation (one row per context_id). */
export interface ConversationsTable {
  context_id: string;
  version: number;
  state: JsonColumn;
  created_at: TimeColumn;
  created_by: string;
  updated_at: TimeColumn;
  updated_by: string;
}

/** Every version of every conversation, never updated or deleted. */
export interface ConversationVersionsTable {
  context_id: string;
  version: number;
  state: JsonColumn;
  reason: string | null;
  restored_from: number | null;
  principal: string;
  at: TimeColumn;
}

/** The current state of each task. */
export interface TasksTable {
  id: string;
  context_id: string;
  state: number;
  version: number;
  data: JsonColumn;
  /** Last event sequence handed out; bumped under the row lock so sequences never collide. */
  event_seq: number;
  /** Last step transition sequence handed out. */
  step_seq: number;
  /** The replica whose run holds the task's lease; NULL while no run holds it. */
  owner: string | null;
  /** Epoch ms by the database's clock until which the owner's lease holds (bigint: PostgreSQL returns text). */
  lease_until: ColumnType<string | number | null, number | null | undefined, number | null>;
  /** Bumped whenever the lease changes hands (or is revoked): a write by an older holder is refused. */
  fencing: Generated<number>;
  created_at: TimeColumn;
  created_by: string;
  updated_at: TimeColumn;
  updated_by: string;
}

/** Every version of every task. */
export interface TaskVersionsTable {
  task_id: string;
  version: number;
  state: number;
  data: JsonColumn;
  reason: string | null;
  principal: string;
  at: TimeColumn;
}

/** The append-only event log of each task. */
export interface TaskEventsTable {
  task_id: string;
  sequence: number;
  event: JsonColumn;
  principal: string;
  at: TimeColumn;
}

/** Client request ids already answered with a task, per caller. */
export interface TaskRequestsTable {
  principal: string;
  request_id: string;
  task_id: string;
  at: TimeColumn;
}

/** Task plans; immutable once written. */
export interface PlansTable {
  plan_id: string;
  task_id: string;
  revision: number;
  plan: JsonColumn;
  principal: string;
  at: TimeColumn;
}

/** Execution and explainability records; immutable once written. */
export interface ExecutionRecordsTable {
  id: string;
  task_id: string;
  kind: string;
  record: JsonColumn;
  principal: string;
  at: TimeColumn;
}

/** The append-only log of plan step transitions, written before the step acts. */
export interface StepTransitionsTable {
  task_id: string;
  sequence: number;
  step_id: string;
  state: number;
  attempt: number;
  detail: NullableJsonColumn;
  principal: string;
  at: TimeColumn;
}

/** Tool invocation results by idempotency key. */
export interface ToolResultsTable {
  key: string;
  status: 'pending' | 'done';
  /** Random id of the current claim holder; a completion must match it. */
  owner: string;
  fingerprint: string | null;
  result: NullableJsonColumn;
  lease_until: TimeColumn;
  principal: string;
  created_at: TimeColumn;
  completed_at: NullableTimeColumn;
}

/** The whole schema as Kysely sees it. */
export interface Database {
  conversations: ConversationsTable;
  conversation_versions: ConversationVersionsTable;
  tasks: TasksTable;
  task_versions: TaskVersionsTable;
  task_events: TaskEventsTable;
  task_requests: TaskRequestsTable;
  plans: PlansTable;
  execution_records: ExecutionRecordsTable;
  step_transitions: StepTransitionsTable;
  tool_results: ToolResultsTable;
}
