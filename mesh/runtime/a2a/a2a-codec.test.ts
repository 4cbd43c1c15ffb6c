import { AgentCard as A2aCardJson } from '@a2a-js/sdk';
import { decodeErrorInfo, decodeStatus, GRPC_STATUS_DETAILS_BIN } from '@a2a-js/sdk/errors/grpc';
import { AgentCard } from '../../../gen/agentmesh/v1/card.js';
import { Role, Task, TaskState, type Message } from '../../../gen/agentmesh/v1/task.js';
import { Code, MeshError } from '../../core/index.js';
import { a2aBindingOf, a2aCardOf, AGENTMESH_CARD_EXTENSION, extendedA2aCardOf } from './a2a-card.js';
import { fromA2aMessage, toA2aEvent, toA2aMessage, toA2aTask } from './a2a-codec.js';
import { a2aError, toA2aError } from './a2a-errors.js';

const message: Message = {
  messageId: 'm-1',
  contextId: 'c-1',
  taskId: '',
  role: Role.ROLE_USER,
  parts: [
    { content: { $case: 'text', text: 'pre-qualify' }, metadata: undefined, filename: '', mediaType: 'text/plain' },
    { content: { $case: 'data', data: { amount: 5000 } }, metadata: { k: 'v' }, filename: '', mediaType: '' },
    { content: { $case: 'raw', raw: Buffer.from([1, 2]) }, metadata: undefined, filename: 'a.bin', mediaType: 'x/y' },
    { content: { $case: 'url', url: 'https://x.test/doc' }, metadata: undefined, filename: '', mediaType: '' },
  ],
  metadata: undefined,
  referenceTaskIds: ['t-0'],
};

const task = Task.fromPartial({
  id: 't-1',
  contextId: 'c-1',
  agent: 'lending/loan-orchestrator',
  skillId: 'prequalify-loan',
  version: 7,
  status: {
    state: TaskState.TASK_STATE_INPUT_REQUIRED,
    timestamp: new Date('2026-12-06T05:00:00Z'),
    message: { role: Role.ROLE_AGENT, parts: [{ content: { $case: 'text', text: 'approve?' } }] },
    inputRequest: { stepId: 'approval', prompt: 'approve?', choices: ['approve', 'decline'], requiredApprovals: 1 },
  },
  history: [message, { ...message, messageId: 'm-2' }, { ...message, messageId: 'm-3' }],
  artifacts: [{ artifactId: 'result', name: 'result', parts: [{ content: { $case: 'data', data: { ok: true } } }] }],
});

describe('agentmesh ↔ A2A messages and tasks', () => {
  test('every part kind survives the round trip', () => {
    expect(fromA2aMessage(toA2aMessage(message))).toEqual(message);
  });

  test("a task keeps state, artifacts and the waiting step (under metadata.agentmesh); A2A's history_length", () => {
    const a = toA2aTask(task);
    expect(a.status).toMatchObject({
      state: TaskState.TASK_STATE_INPUT_REQUIRED,
      timestamp: '2026-12-06T05:00:00.000Z',
    });
    // A2A requires a message id on every message; a status message gets a stable one.
    expect(a.status!.message!.messageId).toBe(`t-1/status/${Date.parse('2026-12-06T05:00:00Z')}`);
    expect(a.artifacts[0]!.parts[0]!.content).toEqual({ $case: 'data', value: { ok: true } });
    expect(a.metadata!.agentmesh).toMatchObject({
      agent: 'lending/loan-orchestrator',
      skillId: 'prequalify-loan',
      version: 7,
      inputRequest: { stepId: 'approval', choices: ['approve', 'decline'] },
    });
    expect(a.history.map((m) => m.messageId)).toEqual(['m-1', 'm-2', 'm-3']);
    expect(toA2aTask(task, 0).history).toEqual([]);
    expect(toA2aTask(task, 2).history.map((m) => m.messageId)).toEqual(['m-2', 'm-3']);
    expect(toA2aTask(task, undefined, false).artifacts).toEqual([]);
  });

  test('events: the task, status and artifact updates map; plan and step events have no A2A form', () => {
    const at = { taskId: 't-1', contextId: 'c-1', sequence: 3, timestamp: new Date() };
    const status = toA2aEvent({
      event: { ...at, event: { $case: 'statusUpdate', statusUpdate: { status: task.status, final: false } } },
    });
    expect(status?.payload).toMatchObject({
      $case: 'statusUpdate',
      value: {
        taskId: 't-1',
        status: { state: TaskState.TASK_STATE_INPUT_REQUIRED },
        metadata: { agentmesh: { inputRequest: { stepId: 'approval' } } },
      },
    });
    expect(
      toA2aEvent({
        event: { ...at, event: { $case: 'artifactUpdate', artifactUpdate: { artifact: task.artifacts[0] } } },
      })?.payload,
    ).toMatchObject({ $case: 'artifactUpdate', value: { artifact: { artifactId: 'result' }, lastChunk: true } });
    expect(
      toA2aEvent({ event: { ...at, event: { $case: 'stepStarted', stepStarted: { stepId: 's', attempt: 1 } } } }),
    ).toBe(undefined);
  });
});

const card = AgentCard.fromPartial({
  name: 'lending/loan-orchestrator',
  version: '1.0.0',
  purpose: 'Pre-qualifies loans.',
  owner: 'team-lending',
  identity: 'spiffe://td/ns/lending/sa/loan-orchestrator',
  skills: [
    {
      id: 'prequalify-loan',
      name: 'Pre-qualify a loan',
      tags: ['lending'],
      examples: [
        { title: 'one', text: '', input: { amount: 5000 } },
        { title: 'two', text: 'C-1001 wants 5000 EUR' },
      ],
    },
  ],
});
const settings = {
  grpcAddress: '127.0.0.1:5000',
  cardOrigin: 'https://127.0.0.1:5001',
  issuer: 'https://127.0.0.1:5002',
  tokenUrl: 'https://127.0.0.1:5002/oauth2/token',
  audience: 'lending/loan-orchestrator',
  sendScopes: ['task.write'],
  readScopes: ['task.read'],
  mutualTls: true,
};

describe('the A2A card of an agent', () => {
  test('a GRPC interface dialable as is, OAuth2 client credentials and mutual TLS, both required', () => {
    const a = a2aCardOf(card, settings);
    expect(a.supportedInterfaces).toEqual([
      { url: '127.0.0.1:5000', protocolBinding: 'GRPC', tenant: '', protocolVersion: '1.0' },
    ]);
    expect(a.securitySchemes.oauth2!.scheme).toMatchObject({
      $case: 'oauth2SecurityScheme',
      value: {
        flows: {
          flow: {
            $case: 'clientCredentials',
            value: {
              tokenUrl: settings.tokenUrl,
              scopes: { 'task.write': expect.any(String), 'task.read': expect.any(String) },
            },
          },
        },
        oauth2MetadataUrl: 'https://127.0.0.1:5002/.well-known/oauth-authorization-server',
      },
    });
    expect(a.securitySchemes.mtls!.scheme?.$case).toBe('mtlsSecurityScheme');
    expect(a.securityRequirements).toEqual([{ schemes: { mtls: { list: [] }, oauth2: { list: ['task.write'] } } }]);
    expect(a.skills[0]).toMatchObject({
      id: 'prequalify-loan',
      examples: ['{"amount":5000}', 'C-1001 wants 5000 EUR'],
    });
    expect(a.capabilities).toMatchObject({ streaming: true, pushNotifications: false, extendedAgentCard: true });
    expect(a.provider).toEqual({ organization: 'team-lending', url: 'https://127.0.0.1:5001' });
    // Its JSON is what the SDK's card resolver reads back.
    expect(A2aCardJson.fromJSON(A2aCardJson.toJSON(a))).toEqual(a);
  });

  test('without mTLS (insecure transport) the card does not claim it', () => {
    const a = a2aCardOf(card, { ...settings, mutualTls: false });
    expect(Object.keys(a.securitySchemes)).toEqual(['oauth2']);
    expect(a.securityRequirements).toEqual([{ schemes: { oauth2: { list: ['task.write'] } } }]);
  });

  test('the extended card adds the agentmesh card; the registry binding holds the public card and its URL', () => {
    const withBinding = { ...card, a2a: a2aBindingOf(card, settings) };
    const ext = extendedA2aCardOf(withBinding, settings);
    const extension = ext.capabilities!.extensions.find((e) => e.uri === AGENTMESH_CARD_EXTENSION)!;
    expect(extension.params).toMatchObject({ identity: card.identity, owner: 'team-lending' });
    expect(extension.params).not.toHaveProperty('a2a');
    expect(withBinding.a2a).toMatchObject({
      cardUrl: 'https://127.0.0.1:5001/.well-known/agent-card.json',
      external: false,
      card: { name: 'lending/loan-orchestrator' },
    });
  });
});

describe('A2A errors', () => {
  test('google.rpc.Status with ErrorInfo (domain a2a-protocol.org) in grpc-status-details-bin', () => {
    const e = a2aError('TASK_NOT_FOUND', 'task t-9 not found');
    expect(e.code).toBe(Code.NOT_FOUND);
    const status = decodeStatus(e.metadata!.get(GRPC_STATUS_DETAILS_BIN)[0] as Buffer);
    expect(status).toMatchObject({ code: Code.NOT_FOUND, message: 'task t-9 not found' });
    expect(decodeErrorInfo(Buffer.from(status.details[0]!.value))).toEqual({
      reason: 'TASK_NOT_FOUND',
      domain: 'a2a-protocol.org',
      metadata: {},
    });
  });

  test("the runtime's NOT_FOUND and INVALID_ARGUMENT become A2A's; other statuses and dependencies' errors stay", () => {
    const reason = (err: unknown) => {
      const md = MeshError.from(err).metadata?.get(GRPC_STATUS_DETAILS_BIN)[0] as Buffer | undefined;
      return md && decodeErrorInfo(Buffer.from(decodeStatus(md).details[0]!.value)).reason;
    };
    expect(reason(toA2aError(new MeshError(Code.NOT_FOUND, 'task x not found')))).toBe('TASK_NOT_FOUND');
    expect(reason(toA2aError(new MeshError(Code.INVALID_ARGUMENT, 'skill_id: unknown')))).toBe('INVALID_PARAMS');
    const denied = new MeshError(Code.PERMISSION_DENIED, 'no');
    expect(toA2aError(denied)).toBe(denied);
    const remote = new MeshError(Code.NOT_FOUND, 'x', { remote: 'lending/credit-risk' });
    expect(toA2aError(remote)).toBe(remote);
  });
});
