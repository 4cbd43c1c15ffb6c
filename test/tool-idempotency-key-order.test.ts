import { createHash } from 'node:crypto';
import { Metadata } from '@grpc/grpc-js';
import {
  Code,
  createLogger,
  toolCardOf,
  toolService,
  type CallContext,
  type Store,
  type ToolSpec,
} from '../mesh/index.js';
import { BACKENDS, type BackendFixture } from './helpers/state-backends.js';

const SERVICE = 'banking/payments';
const TOOL = 'send-payment';

// A step's arguments as the planner wrote them: keys at several depths in an order that
// PostgreSQL's jsonb does not keep (it puts shorter keys first).
const asWritten = {
  recipient: { name: 'Jane Roe', iban: 'GB33BUKB20201555555555', address: { street: 'High St', city: 'Leeds' } },
  reference: 'INV-2291',
  currency: 'GBP',
  amount: 250.5,
  lines: [{ sku: 'A-1', quantity: 2 }],
};

// The same arguments with the keys of every object reversed.
function reordered(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reordered);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .reverse()
      .map(([k, v]) => [k, reordered(v)]),
  );
}

describe.each(BACKENDS)('tool idempotency across key orders on %s', (kind, makeFixture) => {
  let fx: BackendFixture;
  let store: Store;
  let acted = 0;
  let invoke: (
    args: Record<string, unknown>,
    key: string,
    subject?: string,
  ) => Promise<{ result?: unknown; replayed: boolean }>;

  beforeAll(async () => {
    fx = await makeFixture();
    store = await fx.open(SERVICE);
    const tool: ToolSpec = {
      name: TOOL,
      description: 'Sends a payment: acting twice pays twice',
      argumentsSchema: { type: 'object' },
      handler: async (args) => ({ payment: ++acted, amount: args.amount }),
    };
    const card = toolCardOf({ name: SERVICE, version: '1.0.0', purpose: 'payments', owner: 'test' }, [tool], '');
    const service = toolService(card, [tool], { store, service: SERVICE });
    // The in-process path an agent's local tools take (LocalToolRunner): the same
    // implementation a tool service serves over gRPC, without the network hop.
    invoke = (args, key, subject = 'banking/agent') => {
      const request = { tool: TOOL, arguments: args, idempotencyKey: key, context: undefined };
      const peer = { spiffeId: 'spiffe://test/ns/banking/sa/agent', source: 'none' as const };
      const call: CallContext = {
        service: 'agentmesh.v1.ToolService',
        method: 'InvokeTool',
        path: '/agentmesh.v1.ToolService/InvokeTool',
        kind: 'unary',
        request,
        metadata: new Metadata(),
        peer: 'in-process',
        signal: new AbortController().signal,
        deadline: undefined,
        timeRemainingMs: () => Infinity,
        trailer: new Metadata(),
        log: createLogger({ service: SERVICE, level: 'silent' }),
        bindLog: () => undefined,
        identity: peer,
        principal: {
          peer,
          subject,
          clientId: subject,
          scopes: [],
          roles: [],
          actors: [],
          token: '',
          claims: {},
        },
        taskId: undefined,
        changedState: false,
        call: undefined as never,
      };
      return service.invokeTool!(request, call);
    };
  });
  afterAll(async () => {
    await store?.close();
    await fx?.cleanup();
  });

  // What a plan read back from this backend sends: on PostgreSQL, the arguments after a trip
  // through jsonb; on SQLite, which keeps JSON text as written, the same keys reordered by hand.
  async function readBack(args: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (kind !== 'postgres') return reordered(args) as Record<string, unknown>;
    const literal = JSON.stringify(args).replaceAll("'", "''");
    const [row] = await fx.sql(SERVICE, `SELECT '${literal}'::jsonb AS args`);
    return row!.args as Record<string, unknown>;
  }

  test('a re-sent call with the arguments in another key order replays the stored result; the tool acts once', async () => {
    const before = acted;
    const first = await invoke(asWritten, 'task-1:pay:1');
    const again = await readBack(asWritten);
    expect(JSON.stringify(again)).not.toBe(JSON.stringify(asWritten));
    expect(again).toEqual(asWritten);

    const second = await invoke(again, 'task-1:pay:1');
    expect(first).toMatchObject({ result: { payment: before + 1, amount: 250.5 }, replayed: false });
    expect(second).toMatchObject({ result: first.result, replayed: true });
    expect(acted).toBe(before + 1);
  });

  test('other arguments under the same key are still refused, in any key order', async () => {
    await invoke(asWritten, 'task-2:pay:1');
    const before = acted;
    const otherRecipient = { ...asWritten, recipient: { ...asWritten.recipient, iban: 'GB94BARC10201530093459' } };
    for (const args of [otherRecipient, await readBack(otherRecipient), { ...asWritten, amount: 2505 }]) {
      await expect(invoke(args, 'task-2:pay:1')).rejects.toMatchObject({
        code: Code.FAILED_PRECONDITION,
        message: expect.stringContaining('was used with other arguments'),
      });
    }
    expect(acted).toBe(before);
  });

  test("another caller's use of a key is refused, revealing neither the result nor whether the arguments match", async () => {
    const first = await invoke(asWritten, 'task-5:pay:1', 'banking/agent');
    const before = acted;
    for (const args of [asWritten, { ...asWritten, amount: 1 }]) {
      const refused = invoke(args, 'task-5:pay:1', 'people/mallory');
      await expect(refused).rejects.toMatchObject({
        code: Code.FAILED_PRECONDITION,
        message: 'idempotency key already used by another caller',
      });
    }
    expect(acted).toBe(before);
    // The caller that stored it still gets its result.
    expect(await invoke(asWritten, 'task-5:pay:1', 'banking/agent')).toMatchObject({
      result: first.result,
      replayed: true,
    });
  });

  test('an argument JSON cannot carry is INVALID_ARGUMENT naming it, before the tool acts', async () => {
    const before = acted;
    await expect(invoke({ ...asWritten, amount: Number.NaN }, 'task-4:pay:1')).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: expect.stringContaining('arguments/amount: NaN is not a JSON number'),
    });
    expect(acted).toBe(before);
  });

  test('a result stored before fingerprints were canonical still replays for the same arguments', async () => {
    // What the previous release stored: a digest of the arguments exactly as it received them.
    const legacy = createHash('sha256')
      .update(JSON.stringify([TOOL, asWritten]))
      .digest('hex');
    const stored = { payment: 'paid before the upgrade' };
    await store.toolResults.run(`${SERVICE}:task-3:pay:1`, { principal: 'banking/agent', fingerprint: legacy }, () =>
      Promise.resolve(stored),
    );
    const before = acted;
    await expect(invoke(asWritten, 'task-3:pay:1')).resolves.toMatchObject({ result: stored, replayed: true });
    await expect(invoke({ ...asWritten, amount: 2505 }, 'task-3:pay:1')).rejects.toMatchObject({
      code: Code.FAILED_PRECONDITION,
    });
    expect(acted).toBe(before);
  });
});
