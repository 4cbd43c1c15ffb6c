import { randomUUID } from 'node:crypto';
import type { Duration } from '../../gen/google/protobuf/duration.js';
import type { PlanningRecord } from '../../gen/agentmesh/v1/explain.js';
import type { TaskPlan } from '../../gen/agentmesh/v1/plan.js';
import { Code, isMeshError, MeshError } from '../core/index.js';
import type { InventoryItem } from './inventory.js';

/** What a planner is given for one task. */
export interface PlanningInput {
  taskId: string;
  /** The skill of this agent the request was sent to. */
  skillId: string;
  /** The request's text parts, joined. */
  text: string;
  /** The request's structured input (its data parts). */
  input: Record<string, unknown>;
  /** The collaborators in the agent's discovery scope; a plan may use nothing else. */
  inventory: InventoryItem[];
  /** A hint for the plan's goal, e.g. the skill's description. */
  goalHint?: string;
}

/** A valid plan and how it came about. */
export interface PlanningOutcome {
  plan: TaskPlan;
  record: PlanningRecord;
}

/**
 * Turns a request into a validated TaskPlan.
 *
 * Contract: the plan returned satisfies validatePlan against `input.inventory`.
 * A planner that cannot produce one throws FAILED_PRECONDITION
 * "no valid plan: <reasons>" (see noValidPlan) whose `cause` is the
 * PlanningRecord of every attempt, so the runtime can persist it for ExplainTask
 * (read it with planningRecordOf). Other failures (the model endpoint down,
 * cancellation) are MeshErrors with their own codes.
 */
export interface Planner {
  plan(input: PlanningInput, signal?: AbortSignal): Promise<PlanningOutcome>;
}

// gRPC status messages travel in trailers; a model can produce many errors.
const MAX_REASONS = 10;

/** The FAILED_PRECONDITION a planner throws when no attempt produced a valid plan; the record rides along as `cause`. */
export function noValidPlan(reasons: string[], record: PlanningRecord): MeshError {
  const shown = reasons.slice(0, MAX_REASONS).join('; ');
  const more = reasons.length > MAX_REASONS ? ` (and ${reasons.length - MAX_REASONS} more)` : '';
  return new MeshError(Code.FAILED_PRECONDITION, `no valid plan: ${shown}${more}`, { cause: record });
}

/** The PlanningRecord carried by a planner's "no valid plan" error, if `err` is one. */
export function planningRecordOf(err: unknown): PlanningRecord | undefined {
  if (!isMeshError(err) || err.code !== Code.FAILED_PRECONDITION) return undefined;
  const cause = err.cause as Partial<PlanningRecord> | undefined;
  return cause && typeof cause.planner === 'number' && Array.isArray(cause.attempts)
    ? (cause as PlanningRecord)
    : undefined;
}

/** The fields every new plan gets: a fresh id, the task, revision 1 and the creation time. */
export function newPlanIdentity(taskId: string): Pick<TaskPlan, 'planId' | 'taskId' | 'revision' | 'createdAt'> {
  return { planId: randomUUID(), taskId, revision: 1, createdAt: new Date() };
}

/** The time since `startMs` (a performance.now() reading) as a protobuf Duration. */
export function elapsedSince(startMs: number): Duration {
  const ms = Math.max(0, performance.now() - startMs);
  return { seconds: Math.floor(ms / 1000), nanos: Math.floor((ms % 1000) * 1e6) };
}

/** Throws the signal's reason as a MeshError (CANCELLED unless the reason already is one). */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (!signal?.aborted) return;
  throw isMeshError(signal.reason)
    ? signal.reason
    : new MeshError(Code.CANCELLED, 'planning cancelled', { cause: signal.reason });
}
