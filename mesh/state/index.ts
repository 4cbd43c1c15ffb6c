// Durable state per service: the Store over SQLite or PostgreSQL (one query path, migrations), with
// versioned tasks, conversations and plans, step logs, execution records and idempotent tool results.
export type { BackendKind } from './backend.js';
export { loadStateConfig, stateConfigSchema } from './config.js';
export type { StateConfig } from './config.js';
export { encodeJson, StoreContext } from './context.js';
export type { Codec, JsonValue } from './context.js';
export type { JsonColumn, NullableJsonColumn, NullableTimeColumn, TimeColumn } from './tables.js';
export { Conversations } from './conversations.js';
export type { Conversation, ConversationUpdate, ConversationVersion } from './conversations.js';
export { ExecutionRecords } from './execution-records.js';
export type { ExecutionRecord, NewExecutionRecord } from './execution-records.js';
export { MIGRATION_TABLE } from './migrate.js';
export { Plans } from './plans.js';
export type { NewPlan, PlanRecord } from './plans.js';
export { sqlitePath } from './sqlite-backend.js';
export { StepLog } from './steps.js';
export type { StepTransition, UnfinishedTask } from './steps.js';
export { openStore, Store } from './store.js';
export type { StoreOptions, TaskWrites } from './store.js';
export { TaskEvents } from './task-events.js';
export type { TaskEventRecord } from './task-events.js';
export { assertTransition, canTransition, isTerminal, LIVE_STATES, TERMINAL_STATES } from './task-states.js';
export { Tasks } from './tasks.js';
export type { TaskRecord, TaskVersion } from './task-records.js';
export type { NewTask, TaskChange } from './tasks.js';
export { ToolResults } from './tool-results.js';
export type { IdempotencyOptions, IdempotentResult } from './tool-results.js';
