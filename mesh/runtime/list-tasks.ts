import { createHash } from 'node:crypto';
import type { ListTasksRequest, ListTasksResponse } from '../../gen/agentmesh/v1/agent_service.js';
import { TaskState } from '../../gen/agentmesh/v1/task.js';
import { Code, MeshError, type Principal } from '../core/index.js';
import type { Store, TaskCursor, TaskQuery, TaskRecord } from '../state/index.js';
import { isAuditor, waitsFor } from './task-access.js';
import { toTask } from './task-codec.js';

const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 100;
/** How many waiting tasks one waiting_for_me listing examines at most (their JSON is filtered in code). */
export const MAX_WAITING_SCAN = 5_000;
const SCAN_BATCH = 200;

/** The filters a page token is bound to: a token from another listing is refused, not misapplied. */
function filterHash(query: TaskQuery, waitingFor: string | undefined): string {
  const key = JSON.stringify([
    query.states ?? null,
    query.subject ?? null,
    query.contextId ?? null,
    query.updatedAfter?.toISOString() ?? null,
    query.createdAfter?.toISOString() ?? null,
    query.createdBefore?.toISOString() ?? null,
    waitingFor ?? null,
  ]);
  return createHash('sha256').update(key).digest('base64url').slice(0, 16);
}

const encodeToken = (cursor: TaskCursor, hash: string): string =>
  Buffer.from(JSON.stringify({ u: cursor.updatedAt.toISOString(), i: cursor.id, f: hash })).toString('base64url');

function decodeToken(token: string, hash: string): TaskCursor | undefined {
  if (!token) return undefined;
  const invalid = new MeshError(Code.INVALID_ARGUMENT, 'page_token: not a token of this listing');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw invalid;
  }
  const { u, i, f } = (parsed ?? {}) as { u?: unknown; i?: unknown; f?: unknown };
  if (typeof u !== 'string' || typeof i !== 'string' || typeof f !== 'string') throw invalid;
  const updatedAt = new Date(u);
  if (Number.isNaN(updatedAt.getTime())) throw invalid;
  if (f !== hash) throw new MeshError(Code.INVALID_ARGUMENT, 'page_token: it belongs to a listing with other filters');
  return { updatedAt, id: i };
}

/** The validated page size: 0 → the default, more than the maximum refused. */
function pageSizeOf(requested: number): number {
  if (requested < 0) throw new MeshError(Code.INVALID_ARGUMENT, 'page_size: must not be negative');
  if (requested > MAX_PAGE_SIZE) throw new MeshError(Code.INVALID_ARGUMENT, `page_size: at most ${MAX_PAGE_SIZE}`);
  return requested || DEFAULT_PAGE_SIZE;
}

/** The store query for the request and caller: whose tasks the caller may list. */
function queryOf(req: ListTasksRequest, caller: Principal, auditor: boolean): TaskQuery {
  if (req.createdAfter && req.createdBefore && req.createdAfter >= req.createdBefore)
    throw new MeshError(Code.INVALID_ARGUMENT, 'created_before: must be later than created_after');
  if (req.subject && req.subject !== caller.subject && !auditor)
    throw new MeshError(Code.PERMISSION_DENIED, "only auditors list other people's tasks");
  const query: TaskQuery = {
    contextId: req.contextId || undefined,
    updatedAfter: req.statusTimestampAfter,
    createdAfter: req.createdAfter,
    createdBefore: req.createdBefore,
    // Without waiting_for_me, a caller who is not an auditor lists their own tasks.
    subject: req.subject || (auditor || req.waitingForMe ? undefined : caller.subject),
  };
  if (req.waitingForMe) {
    if (req.status && req.status !== TaskState.TASK_STATE_INPUT_REQUIRED) return { ...query, states: [] };
    return { ...query, states: [TaskState.TASK_STATE_INPUT_REQUIRED] };
  }
  return req.status ? { ...query, states: [req.status] } : query;
}

/**
 * The caller's inbox: waiting tasks they may answer now. Whether a task waits for this
 * caller is in its JSON, so the waiting tasks are scanned in batches and filtered here,
 * bounded by MAX_WAITING_SCAN.
 */
async function waitingPage(
  store: Store,
  query: TaskQuery,
  caller: Principal,
  auditorRoles: readonly string[],
  limit: number,
  after: TaskCursor | undefined,
): Promise<{ page: TaskRecord[]; total: number }> {
  const page: TaskRecord[] = [];
  let total = 0;
  let scanned = 0;
  let cursor: TaskCursor | undefined;
  // Deadlines are judged by the database's clock, as the runtime judges them.
  const now = await store.now();
  for (;;) {
    const batch = await store.tasks.page(query, SCAN_BATCH, cursor);
    for (const rec of batch) {
      if (!waitsFor(rec, caller, auditorRoles, now)) continue;
      total++;
      const beyond =
        !after || rec.updatedAt < after.updatedAt || (+rec.updatedAt === +after.updatedAt && rec.id < after.id);
      if (beyond && page.length < limit) page.push(rec);
    }
    scanned += batch.length;
    if (batch.length < SCAN_BATCH) return { page, total };
    // Permanent (no retry): the same query scans the same tasks again; it is the query that must change.
    if (scanned >= MAX_WAITING_SCAN)
      throw new MeshError(
        Code.RESOURCE_EXHAUSTED,
        `more than ${MAX_WAITING_SCAN} tasks wait for input: narrow waiting_for_me with context_id or a time range`,
        { permanent: true },
      );
    const last = batch.at(-1)!;
    cursor = { updatedAt: last.updatedAt, id: last.id };
  }
}

/** ListTasks: a page of the tasks the caller may see, newest status change first (see docs/runtime.md). */
export async function listTasks(
  store: Store,
  req: ListTasksRequest,
  caller: Principal,
  auditorRoles: readonly string[],
): Promise<ListTasksResponse> {
  const pageSize = pageSizeOf(req.pageSize);
  if (req.historyLength < 0) throw new MeshError(Code.INVALID_ARGUMENT, 'history_length: must not be negative');
  const auditor = isAuditor(caller, auditorRoles);
  const query = queryOf(req, caller, auditor);
  const hash = filterHash(query, req.waitingForMe ? caller.subject : undefined);
  const after = decodeToken(req.pageToken, hash);
  let page: TaskRecord[];
  let total: number;
  if (req.waitingForMe) {
    ({ page, total } = await waitingPage(store, query, caller, auditorRoles, pageSize + 1, after));
  } else {
    [page, total] = await Promise.all([store.tasks.page(query, pageSize + 1, after), store.tasks.count(query)]);
  }
  const more = page.length > pageSize;
  page = page.slice(0, pageSize);
  const last = page.at(-1);
  return {
    tasks: page.map((rec) => {
      // history_length 0 means none here (a listing is a summary), unlike GetTask where it means all.
      const task = toTask(rec, req.historyLength);
      return {
        ...task,
        history: req.historyLength > 0 ? task.history : [],
        artifacts: req.includeArtifacts ? task.artifacts : [],
      };
    }),
    nextPageToken: more && last ? encodeToken({ updatedAt: last.updatedAt, id: last.id }, hash) : '',
    pageSize,
    totalSize: total,
  };
}
