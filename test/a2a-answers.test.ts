// Answering a waiting task over A2A (a SendMessage naming the task) is an answer like ProvideInput:
// allowed only where the agent's policy allows ProvideInput — the SendTask rule that lets
// SendMessage through says nothing about answering — judged by the same human-step rules, and a
// retried answer (the same message_id) changes nothing. Real agent processes, tokens, mTLS.
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { Metadata } from '@grpc/grpc-js';
import type { Message as A2aMessage, SendMessageRequest } from '@a2a-js/sdk';
import { A2AService } from '@a2a-js/sdk/server/grpc';
import { startTestMesh, type TestMesh } from '../mesh/testing/index.js';
import { Code } from '../mesh/index.js';
import { ROOT } from './helpers/processes.js';

const STRICT = 'demo/a2a-strict';
const OPEN = 'demo/a2a-open';
const version = () => {
  const md = new Metadata();
  md.set('a2a-version', '1.0');
  return md;
};
const message = (
  id: string,
  parts: A2aMessage['parts'],
  taskId = '',
  metadata?: Record<string, unknown>,
): A2aMessage => ({
  messageId: id,
  contextId: '',
  taskId,
  role: 1,
  parts,
  metadata,
  extensions: [],
  referenceTaskIds: [],
});
const data = (value: unknown): A2aMessage['parts'][number] => ({
  content: { $case: 'data', value },
  metadata: undefined,
  filename: '',
  mediaType: '',
});
const text = (value: string): A2aMessage['parts'][number] => ({
  content: { $case: 'text', value },
  metadata: undefined,
  filename: '',
  mediaType: '',
});
const send = (m: A2aMessage): SendMessageRequest => ({
  tenant: '',
  message: m,
  configuration: undefined,
  metadata: undefined,
});

describe('an answer over A2A is an answer: the ProvideInput rule, the human-step rules, once', () => {
  let mesh: TestMesh;
  const a2a = (agent: string, user: string) => mesh.client(A2AService, agent, { user });
  const audit = (agent: string) =>
    readFileSync(join(mesh.home, 'data', agent.replace('/', '-'), 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map(
        (l) => JSON.parse(l) as { kind: string; method?: string; outcome?: string; reason?: string; subject?: string },
      );

  beforeAll(async () => {
    mesh = await startTestMesh({
      agents: [STRICT, OPEN],
      env: { AGENTMESH_AUTH_USERS_FILE: join(ROOT, 'services', 'auth', 'users.json') },
    });
    const anyone = ['spiffe://{trust_domain}/ns/*/sa/*'];
    await Promise.all([
      mesh.startAgent(join(ROOT, 'test/fixtures/inbox-agent.ts'), {
        name: STRICT,
        policy: {
          rules: [
            {
              description: 'send and follow tasks',
              methods: ['agentmesh.v1.AgentService/SendTask', 'agentmesh.v1.AgentService/GetTask'],
              callers: anyone,
              scopes: [],
            },
            {
              description: 'answers only from the console',
              methods: ['agentmesh.v1.AgentService/ProvideInput'],
              callers: ['spiffe://{trust_domain}/ns/agentmesh/sa/console'],
              scopes: [],
            },
          ],
        },
      }),
      mesh.startAgent(join(ROOT, 'test/fixtures/inbox-agent.ts'), { name: OPEN }),
    ]);
  }, 120_000);

  afterAll(() => mesh?.stop());

  test('where the policy keeps answers to the console, an approver answering over A2A is refused, audited, nothing changes', async () => {
    const sent = await a2a(STRICT, 'ada').sendMessage(send(message('strict-1', [data({ amount: 100 })])), {
      metadata: version(),
    });
    const task = sent.payload?.$case === 'task' ? sent.payload.value : undefined;
    expect(task?.status?.state).toBe(6); // INPUT_REQUIRED
    await expect(
      a2a(STRICT, 'carol').sendMessage(send(message('strict-answer', [text('approve')], task!.id)), {
        metadata: version(),
      }),
    ).rejects.toMatchObject({
      code: Code.PERMISSION_DENIED,
      message: expect.stringContaining('is not allowed to call agentmesh.v1.AgentService/ProvideInput'),
    });
    const after = await a2a(STRICT, 'ada').getTask(
      { tenant: '', id: task!.id, historyLength: undefined },
      { metadata: version() },
    );
    expect(after.status?.state).toBe(6);
    expect(after.history.map((m) => m.messageId)).toEqual(['strict-1']);
    expect(audit(STRICT)).toContainEqual(
      expect.objectContaining({ kind: 'approval_refused', subject: 'carol', outcome: 'PERMISSION_DENIED' }),
    );
  }, 60_000);

  test('where the policy allows answers, carol approves once; the same message again changes nothing', async () => {
    const sent = await a2a(OPEN, 'ada').sendMessage(send(message('open-1', [data({ amount: 200 })])), {
      metadata: version(),
    });
    const task = sent.payload?.$case === 'task' ? sent.payload.value : undefined;
    expect(task?.status?.state).toBe(6);
    // The requester may not approve their own payment (four eyes), over A2A as anywhere.
    await expect(
      a2a(OPEN, 'ada').sendMessage(send(message('open-self', [text('approve')], task!.id)), { metadata: version() }),
    ).rejects.toMatchObject({ code: Code.PERMISSION_DENIED });
    const answer = send(message('open-answer', [text('approve')], task!.id));
    const done = await a2a(OPEN, 'carol').sendMessage(answer, { metadata: version() });
    const first = done.payload?.$case === 'task' ? done.payload.value : undefined;
    expect(first?.status?.state).toBe(3); // COMPLETED
    const again = await a2a(OPEN, 'carol').sendMessage(answer, { metadata: version() });
    const second = again.payload?.$case === 'task' ? again.payload.value : undefined;
    expect(second?.status?.state).toBe(3);
    expect(second?.metadata?.agentmesh).toEqual(first?.metadata?.agentmesh);
    expect(second?.history.filter((m) => m.messageId === 'open-answer')).toHaveLength(1);
    // One accepted answer on the record, carol's.
    expect(audit(OPEN).filter((a) => a.kind === 'approval')).toEqual([
      expect.objectContaining({ subject: 'carol', outcome: 'OK' }),
    ]);
  }, 60_000);
});
