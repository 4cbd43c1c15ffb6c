import type { SendTaskRequest, StreamTaskResponse } from '../../gen/agentmesh/v1/agent_service.js';
import type { AgentCard } from '../../gen/agentmesh/v1/card.js';
import { Message, TaskState } from '../../gen/agentmesh/v1/task.js';
import type { Code, Principal } from '../core/index.js';
import { isLeaseLost, TASK_CHANNEL, type Store, type TaskLease, type TaskRecord } from '../state/index.js';
import type { Logger, MeshMetrics } from '../telemetry/index.js';
import { AnswerDeadlines, DEFAULT_EXPIRY_SWEEP_MS } from './answer-deadlines.js';
import { AuditedTransitions, type AuditSink } from './audited-transitions.js';
import { TaskOwnership, type Run } from './task-ownership.js';
import type { StepRunner } from './executor.js';
import type { InventoryItem } from './inventory.js';
import type { Planner } from './planner.js';
import { SendTaskRequests } from './send-task-request.js';
import { CallerAuthority } from './caller-authority.js';
import { countStoredTasks, countTransition } from './task-counts.js';
import { TaskChanges } from './task-changes.js';
import { TaskFeed } from './task-feed.js';
import { HumanAnswers } from './human-answers.js';
import { TaskRunner } from './task-runner.js';
import { cancelTask } from './cancel-task.js';
import { statusEvent } from './task-codec.js';

/** What an agent's runtime is made of. */
export interface AgentRuntimeOptions {
  card: AgentCard;
  planner: Planner;
  store: Store;
  runner: StepRunner;
  /** The collaborators in the agent's discovery scope, for the planner. */
  inventory: () => Promise<InventoryItem[]>;
  log: Logger;
  /** Upper bound of a request's input (text + data), bytes. */
  maxInputBytes?: number;
  /** Tasks by state, pending tasks, plan steps, conversation depth. */
  metrics?: MeshMetrics;
  /** Where plan creation and every task state change are recorded; a state is stored only once its record is durable. */
  audit?: AuditSink;
  /**
   * The longest one run of a task may take — from its start, or its resumption
   * after a person answered, until it ends or waits again; a request may ask
   * for less. No step attempt outlives it.
   */
  taskTimeoutMs?: number;
  /**
   * How long a replica's hold on a task it runs lasts without renewal (by the
   * database's clock): a task whose replica died or hangs is taken over by
   * another within about 1.5 times this. Renewed every third of it.
   */
  leaseMs?: number;
  /** How often the store is swept for waiting tasks whose answer deadline passed (they fail), ms. */
  expirySweepMs?: number;
}

/** Default of AgentRuntimeOptions.taskTimeoutMs. */
export const DEFAULT_TASK_TIMEOUT_MS = 300_000;
/** Default of AgentRuntimeOptions.leaseMs. */
export const DEFAULT_TASK_LEASE_MS = 10_000;

/**
 * Runs an agent's tasks: each request becomes a persisted task, a plan
 * (persisted, immutable), and a deterministic execution whose every step
 * transition and substitution is recorded before it is acted on; events go
 * to the task's append-only log, from which streams are served.
 */
export class AgentRuntime {
  private readonly running = new Map<string, Run>();
  private readonly feed: TaskFeed;
  private readonly requests: SendTaskRequests;
  private readonly authority = new CallerAuthority();
  // Tasks whose caller came back while their run was still finishing: started again when it has (with the lease taken for it).
  private readonly wake = new Map<string, TaskLease | undefined>();
  private readonly transitions: AuditedTransitions;
  private readonly changes: TaskChanges;
  private readonly ownership: TaskOwnership;
  private readonly deadlines: AnswerDeadlines;
  private readonly answers: HumanAnswers;
  private readonly runner: TaskRunner;
  private readonly leaseMs: number;
  private unlisten: (() => void) | undefined;
  private closed = false;

  constructor(private readonly o: AgentRuntimeOptions) {
    this.feed = new TaskFeed({ store: o.store, running: this.running });
    this.leaseMs = o.leaseMs ?? DEFAULT_TASK_LEASE_MS;
    this.ownership = new TaskOwnership({
      store: o.store,
      log: o.log,
      metrics: o.metrics,
      leaseMs: this.leaseMs,
      running: this.running,
      start: (taskId, lease, freshBudget) => this.start(taskId, lease, freshBudget),
    });
    this.transitions = new AuditedTransitions({
      store: o.store,
      audit: o.audit,
      service: o.card.name,
      peer: o.card.identity || undefined,
    });
    this.changes = new TaskChanges({
      transitions: this.transitions,
      ownership: this.ownership,
      leaseMs: this.leaseMs,
      taskTimeoutMs: o.taskTimeoutMs ?? DEFAULT_TASK_TIMEOUT_MS,
      metrics: o.metrics,
      changed: (id) => this.feed.changed(id),
    });
    this.deadlines = new AnswerDeadlines({
      store: o.store,
      log: o.log,
      sweepMs: o.expirySweepMs ?? DEFAULT_EXPIRY_SWEEP_MS,
      expire: (rec) => this.answers.expire(rec),
    });
    this.runner = new TaskRunner({
      card: o.card,
      planner: o.planner,
      inventory: () => o.inventory(),
      runner: o.runner,
      store: o.store,
      metrics: o.metrics,
      principal: o.card.name,
      ownership: this.ownership,
      transitions: this.transitions,
      changes: this.changes,
      deadlines: this.deadlines,
      leaseMs: this.leaseMs,
      authority: this.authority,
      changed: (id) => this.feed.changed(id),
    });
    this.requests = new SendTaskRequests({ card: o.card, maxInputBytes: o.maxInputBytes });
    this.answers = new HumanAnswers({
      card: o.card,
      store: o.store,
      audit: o.audit,
      changes: this.changes,
      ownership: this.ownership,
      remember: (task, caller) => this.remember(task, caller),
      start: (taskId, lease) => this.startOrWake(taskId, lease),
    });
  }

  /** This runtime's id as the owner of task leases: unique per process, so a restarted process is another owner. */
  get replicaId(): string {
    return this.ownership.replicaId;
  }

  /** The access token of the caller a task runs for, while this process holds one that is not about to expire. */
  authorityFor(taskId: string): string | undefined {
    return this.authority.tokenFor(taskId);
  }

  /**
   * Keeps the latest token the task's own subject presented (every call of
   * theirs renews it); a task that waits for that authority (AUTH_REQUIRED)
   * resumes. Whether it resumed the task (a state change, though the call may be a read).
   */
  remember(task: TaskRecord, caller: Principal): boolean {
    if (!this.authority.keep(task, caller)) return false;
    // Only a token the run can use wakes it (else it would pause again at once, at every call).
    if (task.state !== TaskState.TASK_STATE_AUTH_REQUIRED || !this.authorityFor(task.id)) return false;
    // The run that paused may still be finishing (its last records): start again once it has.
    this.startOrWake(task.id);
    return true;
  }

  /** Counts tasks by state (and pending ones) from the store, at start. */
  async countTasks(): Promise<void> {
    await countStoredTasks(this.o.metrics, this.o.store);
  }

  /** Accepts a request (idempotent by request_id per caller) and starts working on it. */
  async send(req: SendTaskRequest, caller: Principal): Promise<TaskRecord> {
    const { id, contextId, data: taskData } = this.requests.parse(req, caller);
    const { task, created } = await this.o.store.tasks.create({
      id,
      contextId,
      principal: caller.subject,
      requestId: req.requestId,
      data: taskData,
      events: [statusEvent(TaskState.TASK_STATE_SUBMITTED)],
      // Leased from birth to this replica: no other replica's takeover scan picks it up meanwhile.
      lease: { owner: this.replicaId, ttlMs: this.leaseMs },
    });
    this.remember(task, caller);
    if (created) {
      countTransition(this.o.metrics, undefined, task.state, 1);
      // Queued before the run starts, so its first change (WORKING) is recorded after this one.
      const submitted = this.transitions.inTurn(task.id, () =>
        this.transitions.record(task, 'task_state', TaskState.TASK_STATE_SUBMITTED),
      );
      // Started first: a failing audit write fails this call, but leaves no task that never runs.
      this.start(task.id, this.ownership.lease(task.fencing));
      await submitted;
    } else {
      // A retry racing the call that created the task: answered once that call's record is durable.
      await this.transitions.inTurn(task.id, async () => undefined);
    }
    return task;
  }

  // Starts a run of the task, or, while its last run in this process is still finishing, once that run has.
  private startOrWake(taskId: string, lease?: TaskLease): void {
    if (this.running.has(taskId)) this.wake.set(taskId, lease);
    else this.start(taskId, lease);
  }

  /**
   * Runs a task in this process, under `lease` when this replica already took it
   * (else the run takes it first, or stops when another replica holds it).
   * A run that fails keeps its lease: it lapses and a takeover scan resumes the task.
   */
  private start(taskId: string, lease?: TaskLease, freshBudget = false): void {
    if (this.running.has(taskId) || this.closed) return;
    const run: Run = { controller: new AbortController(), lease, freshBudget };
    this.running.set(taskId, run);
    this.ownership.renewing();
    void this.runner
      .traced(taskId, run)
      .catch((err: unknown) => {
        if (isLeaseLost(err)) this.ownership.lost(taskId, run, err);
        else if (!run.controller.signal.aborted) this.o.log.error({ err, task_id: taskId }, 'task processing failed');
      })
      .finally(() => {
        this.running.delete(taskId);
        this.feed.changed(taskId);
        if (this.wake.has(taskId)) {
          const next = this.wake.get(taskId);
          this.wake.delete(taskId);
          this.start(taskId, next);
        }
      });
  }

  /** Resolves once the task is terminal or waits for input (or the signal aborts). */
  settled(taskId: string, signal: AbortSignal): Promise<TaskRecord> {
    return this.feed.settled(taskId, signal);
  }

  /** Resolves once no run of the task is in progress in this process (a canceled run may still be unwinding). */
  idle(taskId: string): Promise<void> {
    return this.feed.idle(taskId);
  }

  /** The task's events after `afterSequence`, then live ones, until it is terminal (or waits for input, when `untilInput`). */
  events(
    taskId: string,
    afterSequence: number,
    signal: AbortSignal,
    untilInput = false,
  ): AsyncGenerator<StreamTaskResponse> {
    return this.feed.events(taskId, afterSequence, signal, untilInput);
  }

  /** Cancels a task that is not terminal: outstanding steps are stopped. */
  cancel(taskId: string, reason: string, caller: Principal): Promise<TaskRecord> {
    return cancelTask({ store: this.o.store, running: this.running, changes: this.changes }, taskId, reason, caller);
  }

  /** Answers the human step a task waits for (see HumanAnswers.provideInput). */
  provideInput(
    taskId: string,
    stepId: string,
    message: Message | undefined,
    expectedVersion: number,
    caller: Principal,
  ): Promise<TaskRecord> {
    return this.answers.provideInput(taskId, stepId, message, expectedVersion, caller);
  }

  /**
   * Audits an answer by a caller who may not see the task (they are told it
   * does not exist): the record says why it would have been refused.
   */
  refuseUnseen(rec: TaskRecord, stepId: string, message: Message | undefined, caller: Principal): Promise<void> {
    return this.answers.refuseUnseen(rec, stepId, message, caller);
  }

  /** Audits an answer refused before it reached the runtime's rules (an auditor's: they change nothing). */
  refuseAnswer(rec: TaskRecord, stepId: string, caller: Principal, code: Code, reason: string): Promise<void> {
    return this.answers.refuseAnswer(rec, stepId, caller, code, reason);
  }

  /**
   * Starts following the store: takes over, now and every half lease, the
   * tasks no live replica holds (see TaskOwnership), and listens to change
   * notices so that calls on this replica hear of changes made by others.
   * Returns how many tasks the first scan took.
   */
  async resume(): Promise<number> {
    this.unlisten ??= await this.o.store.notices.listen(TASK_CHANNEL, (id) => this.noticed(id));
    this.deadlines.follow();
    return this.ownership.follow();
  }

  /** One takeover scan (see TaskOwnership.takeOver); resume() runs them on a timer. */
  takeOver(): Promise<number> {
    return this.ownership.takeOver();
  }

  /**
   * A change notice: wakes this replica's followers of the task (all of them when
   * notices may have been missed), and stops this replica's run of a task that was
   * canceled or taken by another replica meanwhile. Changes this process made are checked too:
   * a run restarted while a cancel here was still being written (a takeover scan, a wake-up) was
   * not aborted by it, and only this check stops it before its next step's side effects.
   */
  private noticed(taskId: string | undefined): void {
    const ids = taskId !== undefined ? [taskId] : [...new Set([...this.feed.followed(), ...this.running.keys()])];
    for (const id of ids) {
      this.feed.changed(id);
      const run = this.running.get(id);
      if (run?.lease && !run.checking) void this.ownership.checkOwner(id, run);
    }
  }

  /** Stops following the store and hands this replica's tasks over (see TaskOwnership.close). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unlisten?.();
    this.deadlines.close();
    await this.ownership.close((id) => this.idle(id));
  }
}
