// ListTasks over a real store on both backends: keyset paging newest change first, filters,
// the approver's inbox, and refusals of bad paging input (docs/runtime.md, "ListTasks").
import { ListTasksRequest } from '../gen/agentmesh/v1/agent_service.js';
import { InputRequest, TaskState, TaskStatus, type DeepPartial } from '../gen/agentmesh/v1/task.js';
import { Code, type Principal } from '../mesh/index.js';
import type { Store, TaskRecord } from '../mesh/index.js';
import { listTasks } from '../mesh/runtime/list-tasks.js';
import { BACKENDS, type BackendFixture } from './helpers/state-backends.js';

const AUDITORS = ['auditor'];
const person = (subject: string, roles: string[] = []): Principal => ({
  peer: { spiffeId: undefined, source: 'none' },
  subject,
  clientId: 'agentmesh/console',
  scopes: ['task.read'],
  roles,
  actors: ['agentmesh/console'],
  token: '',
  claims: {},
});
const ada = person('ada', ['loan-officer']);
const carol = person('carol', ['loan-approver']);
const ben = person('ben', ['auditor']);

const S = TaskState;
const newestFirst = (a: TaskRecord, b: TaskRecord) =>
  +b.updatedAt - +a.updatedAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

describe.each(BACKENDS)('ListTasks on %s', (_kind, makeFixture) => {
  let fx: BackendFixture;
  let store: Store;
  let seq = 0;
  /** Every task created, as last written. */
  const all: TaskRecord[] = [];

  async function task(
    subject: string,
    opts: { contextId?: string; to?: TaskState[]; waiting?: DeepPartial<InputRequest> } = {},
  ): Promise<TaskRecord> {
    const id = `t-${String(++seq).padStart(2, '0')}`;
    const data = {
      subject,
      agent: 'test/agent',
      skillId: 'run',
      status: {},
      history: [
        { messageId: `${id}-m1`, role: 'ROLE_USER', parts: [{ text: 'one' }] },
        { messageId: `${id}-m2`, role: 'ROLE_AGENT', parts: [{ text: 'two' }] },
      ],
      artifacts: [{ artifactId: 'result', parts: [{ data: { id } }] }],
      actors: ['agentmesh/console'],
    };
    let rec = (await store.tasks.create({ id, contextId: opts.contextId ?? 'ctx-a', principal: subject, data })).task;
    const states = opts.waiting ? [S.TASK_STATE_WORKING, S.TASK_STATE_INPUT_REQUIRED] : (opts.to ?? []);
    for (const state of states) {
      const status =
        state === S.TASK_STATE_INPUT_REQUIRED
          ? TaskStatus.toJSON(TaskStatus.fromPartial({ state, inputRequest: InputRequest.fromPartial(opts.waiting!) }))
          : {};
      rec = await store.tasks.update(id, {
        expectedVersion: rec.version,
        principal: 'test/agent',
        state,
        data: { ...data, status },
      });
    }
    all.push(rec);
    return rec;
  }

  const list = (caller: Principal, req: DeepPartial<ListTasksRequest> = {}) =>
    listTasks(store, ListTasksRequest.fromPartial(req), caller, AUDITORS);
  const ids = (tasks: { id: string }[]) => tasks.map((t) => t.id);
  /** Every page of a listing, followed to its end: the ids in order, and the total each page gave. */
  async function pages(caller: Principal, req: DeepPartial<ListTasksRequest>) {
    const seen: string[] = [];
    const totals = new Set<number>();
    let pageToken = '';
    for (let n = 0; n < 20; n++) {
      const res = await list(caller, { ...req, pageToken });
      seen.push(...ids(res.tasks));
      totals.add(res.totalSize);
      pageToken = res.nextPageToken;
      if (!pageToken) return { seen, totals: [...totals] };
    }
    throw new Error('the listing never ended');
  }
  const approval = { stepId: 'approve', prompt: 'Approve?', choices: ['approve', 'decline'] };

  beforeAll(async () => {
    fx = await makeFixture();
    store = await fx.open('test/agent');
    for (let i = 0; i < 7; i++)
      await task('ada', { contextId: i % 2 ? 'ctx-b' : 'ctx-a', to: i < 3 ? [S.TASK_STATE_WORKING] : [] });
    await task('dan', { to: [S.TASK_STATE_WORKING, S.TASK_STATE_COMPLETED] });
    // Waiting: two for loan approvers (one of them ada's), one already approved once by carol, one for another role.
    await task('dan', { waiting: { ...approval, approverRoles: ['loan-approver'] } });
    await task('ada', { waiting: { ...approval, approverRoles: ['loan-approver'] } });
    await task('dan', {
      waiting: {
        ...approval,
        approverRoles: ['loan-approver'],
        requiredApprovals: 2,
        approvals: [{ stepId: 'approve', subject: 'carol', role: 'loan-approver', answer: 'approve' }],
      },
    });
    await task('dan', { waiting: { ...approval, approverRoles: ['risk-approver'] } });
    // A question to its subject: in carol's own inbox.
    await task('carol', { waiting: { stepId: 'ask', prompt: 'Which account?' } });
  }, 60_000);

  afterAll(async () => {
    await store?.close();
    await fx?.cleanup();
  });

  test("pages of 3 over ada's 8 tasks return each once, newest change first, with the total", async () => {
    const expected = ids(all.filter((t) => t.createdBy === 'ada').sort(newestFirst));
    expect(expected).toHaveLength(8);
    const seen: string[] = [];
    let token = '';
    for (let page = 0; page < 5; page++) {
      const res = await list(ada, { pageSize: 3, pageToken: token });
      expect(res).toMatchObject({ pageSize: 3, totalSize: 8 });
      seen.push(...ids(res.tasks));
      token = res.nextPageToken;
      if (!token) break;
    }
    expect(seen).toEqual(expected);
    expect(token).toBe('');
  });

  test('filters: state, context, status time, creation time range', async () => {
    const mine = all.filter((t) => t.createdBy === 'ada');
    const expect_ = (pred: (t: TaskRecord) => boolean) => ids(mine.filter(pred).sort(newestFirst));
    expect(ids((await list(ada, { status: S.TASK_STATE_WORKING })).tasks)).toEqual(
      expect_((t) => t.state === S.TASK_STATE_WORKING),
    );
    expect(ids((await list(ada, { contextId: 'ctx-b' })).tasks)).toEqual(expect_((t) => t.contextId === 'ctx-b'));
    const pivot = [...mine].sort((a, b) => +a.createdAt - +b.createdAt)[4]!;
    expect(ids((await list(ada, { createdAfter: pivot.createdAt })).tasks)).toEqual(
      expect_((t) => t.createdAt >= pivot.createdAt),
    );
    expect(ids((await list(ada, { createdBefore: pivot.createdAt })).tasks)).toEqual(
      expect_((t) => t.createdAt < pivot.createdAt),
    );
    const changed = [...mine].sort((a, b) => +a.updatedAt - +b.updatedAt)[3]!;
    const later = expect_((t) => t.updatedAt > changed.updatedAt);
    expect(await pages(ada, { statusTimestampAfter: changed.updatedAt, pageSize: 2 })).toEqual({
      seen: later,
      totals: [later.length],
    });
  });

  test('history only up to history_length (0: none), artifacts only when asked', async () => {
    const bare = (await list(ada, { pageSize: 1 })).tasks[0]!;
    expect(bare.history).toEqual([]);
    expect(bare.artifacts).toEqual([]);
    const full = (await list(ada, { pageSize: 1, historyLength: 1, includeArtifacts: true })).tasks[0]!;
    expect(full.history.map((m) => m.messageId)).toEqual([`${full.id}-m2`]);
    expect(full.artifacts.map((a) => a.artifactId)).toEqual(['result']);
  });

  test("waiting_for_me: what the caller may answer now — not their own approval, not one they gave, not another role's", async () => {
    const waitingFor = (subject: string, role: string) =>
      ids(
        all
          .filter((t) => t.state === S.TASK_STATE_INPUT_REQUIRED)
          .filter((t) => {
            const d = t.data as {
              subject: string;
              status: { inputRequest?: { approverRoles?: string[]; approvals?: { subject: string }[] } };
            };
            const r = d.status.inputRequest!;
            if (!r.approverRoles?.length) return d.subject === subject;
            return (
              r.approverRoles.includes(role) &&
              d.subject !== subject &&
              !r.approvals?.some((a) => a.subject === subject)
            );
          })
          .sort(newestFirst),
      );
    const expected = waitingFor('carol', 'loan-approver');
    expect(expected).toHaveLength(3);
    expect(await pages(carol, { waitingForMe: true, pageSize: 2 })).toEqual({ seen: expected, totals: [3] });
    // ada sees neither her own approval nor dan's questions; the question to carol is carol's alone.
    expect(ids((await list(ada, { waitingForMe: true })).tasks)).toEqual([]);
    expect((await list(ben, { waitingForMe: true })).totalSize).toBe(0);
    expect((await list(carol, { waitingForMe: true, status: S.TASK_STATE_WORKING })).tasks).toEqual([]);
  });

  test("an auditor lists everyone's tasks and filters by subject; others may not name another subject", async () => {
    expect((await list(ben, { pageSize: 100 })).totalSize).toBe(all.length);
    expect(ids((await list(ben, { subject: 'dan', pageSize: 100 })).tasks)).toEqual(
      ids(all.filter((t) => t.createdBy === 'dan').sort(newestFirst)),
    );
    await expect(list(ada, { subject: 'dan' })).rejects.toMatchObject({ code: Code.PERMISSION_DENIED });
    expect((await list(ada, { subject: 'ada' })).totalSize).toBe(8);
  });

  test('bad paging input: INVALID_ARGUMENT', async () => {
    await expect(list(ada, { pageSize: 101 })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: 'page_size: at most 100',
    });
    for (const pageToken of ['garbage!', Buffer.from('{"u":1}').toString('base64url'), 'e30']) {
      await expect(list(ada, { pageToken })).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    }
    // A token of another listing (other filters, or another caller's view) is refused, not misapplied.
    const token = (await list(ada, { pageSize: 1 })).nextPageToken;
    await expect(list(ada, { pageSize: 1, pageToken: token, contextId: 'ctx-a' })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: 'page_token: it belongs to a listing with other filters',
    });
    await expect(list(ben, { pageSize: 1, pageToken: token })).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    const now = new Date();
    await expect(list(ada, { createdAfter: now, createdBefore: now })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
    });
  });
});
