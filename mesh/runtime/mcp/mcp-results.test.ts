import {
  InsufficientScopeError,
  ProtocolError,
  SdkError,
  SdkErrorCode,
  SdkHttpError,
  UnauthorizedError,
} from '@modelcontextprotocol/client';
import { TaskPlan } from '../../../gen/agentmesh/v1/plan.js';
import { Code } from '../../core/index.js';
import { execute, outcomeUnknown, type StepCall } from '../executor.js';
import { BREAKER_FAILURES, CircuitBreaker, RETRYABLE } from '../retry.js';
import { meshErrorOfCall, outputOf, serverText } from './mcp-results.js';

const http = (status: number) =>
  new SdkHttpError(SdkErrorCode.ClientHttpNotImplemented, `Error POSTing to endpoint: ${status}`, {
    status,
    statusText: '',
  });
const facts = (sent: boolean, idempotent: boolean) => ({ tool: 'partners/x#t', sent, idempotent });

describe('outputOf', () => {
  test('structured content first, else the text as JSON when it is JSON, else the text', () => {
    expect(outputOf({ structuredContent: { a: 1 }, content: [{ type: 'text', text: '{"b":2}' }] })).toEqual({ a: 1 });
    expect(outputOf({ content: [{ type: 'text', text: '{"b":2}' }] })).toEqual({ b: 2 });
    expect(outputOf({ content: [{ type: 'text', text: '[1,2]' }] })).toEqual([1, 2]);
    expect(outputOf({ content: [{ type: 'text', text: 'plain words' }] })).toBe('plain words');
    expect(outputOf({ content: [{ type: 'image', data: 'x' }] })).toBe('');
  });
});

describe('meshErrorOfCall: what the executor does with a failed MCP call', () => {
  test('no answer after an idempotent call: UNAVAILABLE / DEADLINE_EXCEEDED, retried', () => {
    for (const err of [http(503), http(502), new Error('socket hang up')])
      expect(meshErrorOfCall(err, facts(true, true)).code).toBe(Code.UNAVAILABLE);
    const timeout = new SdkError(SdkErrorCode.RequestTimeout, 'Request timed out');
    expect(meshErrorOfCall(timeout, facts(true, true)).code).toBe(Code.DEADLINE_EXCEEDED);
    expect(RETRYABLE.has(Code.UNAVAILABLE) && RETRYABLE.has(Code.DEADLINE_EXCEEDED)).toBe(true);
  });

  test('no answer after a non-idempotent call: UNKNOWN, outcome unknown, not retried', () => {
    for (const err of [
      http(503),
      new Error('socket hang up'),
      new SdkError(SdkErrorCode.RequestTimeout, 'timed out'),
    ]) {
      const mapped = meshErrorOfCall(err, facts(true, false));
      expect(mapped.code).toBe(Code.UNKNOWN);
      expect(mapped.message).toContain('outcome unknown');
      expect(RETRYABLE.has(mapped.code)).toBe(false);
    }
  });

  test('a failure before tools/call went out (the handshake) is retried whatever the tool', () => {
    expect(meshErrorOfCall(http(503), facts(false, false)).code).toBe(Code.UNAVAILABLE);
  });

  test('refusals before acting keep their codes: not retried, except rate limiting', () => {
    expect(meshErrorOfCall(new UnauthorizedError(), facts(true, false)).code).toBe(Code.UNAUTHENTICATED);
    expect(meshErrorOfCall(http(403), facts(true, false)).code).toBe(Code.PERMISSION_DENIED);
    const scope = new InsufficientScopeError({ requiredScope: 'tools.invoke' });
    expect(meshErrorOfCall(scope, facts(true, false)).code).toBe(Code.PERMISSION_DENIED);
    expect(meshErrorOfCall(http(429), facts(true, false)).code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(meshErrorOfCall(http(404), facts(true, false)).code).toBe(Code.FAILED_PRECONDITION);
    for (const code of [Code.UNAUTHENTICATED, Code.PERMISSION_DENIED, Code.FAILED_PRECONDITION]) {
      expect(RETRYABLE.has(code)).toBe(false);
      expect(BREAKER_FAILURES.has(code)).toBe(false);
    }
  });

  test('JSON-RPC errors: invalid params is INVALID_ARGUMENT, internal is INTERNAL', () => {
    expect(meshErrorOfCall(new ProtocolError(-32602, 'Unknown tool'), facts(true, true)).code).toBe(
      Code.INVALID_ARGUMENT,
    );
    expect(meshErrorOfCall(new ProtocolError(-32603, 'boom'), facts(true, true)).code).toBe(Code.INTERNAL);
    // The server answered: not ambiguous, even for a tool not marked idempotent.
    expect(meshErrorOfCall(new ProtocolError(-32603, 'boom'), facts(true, false)).code).toBe(Code.INTERNAL);
    // An HTTP 500 after sending may hide a tool that acted.
    expect(meshErrorOfCall(http(500), facts(true, false)).code).toBe(Code.UNKNOWN);
  });
});

describe('transient failures an agentmesh MCP server reports (data["io.agentmesh/code"])', () => {
  const transient = (name: string) =>
    new ProtocolError(-32000, `${name}: the ledger is busy`, { 'io.agentmesh/code': name });

  test('an idempotent tool: that code, retried by the executor', () => {
    for (const [name, code] of [
      ['UNAVAILABLE', Code.UNAVAILABLE],
      ['DEADLINE_EXCEEDED', Code.DEADLINE_EXCEEDED],
      ['RESOURCE_EXHAUSTED', Code.RESOURCE_EXHAUSTED],
      ['ABORTED', Code.ABORTED],
    ] as const) {
      const mapped = meshErrorOfCall(transient(name), facts(true, true));
      expect(mapped.code).toBe(code);
      expect(RETRYABLE.has(mapped.code)).toBe(true);
    }
  });

  test('a tool not marked idempotent: outcome unknown, except RESOURCE_EXHAUSTED (refused before acting)', () => {
    for (const name of ['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'ABORTED']) {
      const mapped = meshErrorOfCall(transient(name), facts(true, false));
      expect(mapped.code).toBe(Code.UNKNOWN);
      expect(mapped.message).toContain('outcome unknown');
    }
    expect(meshErrorOfCall(transient('RESOURCE_EXHAUSTED'), facts(true, false)).code).toBe(Code.RESOURCE_EXHAUSTED);
  });

  test('any other data is an ordinary JSON-RPC error (the server answered)', () => {
    const other = new ProtocolError(-32000, 'INTERNAL: no', { 'io.agentmesh/code': 'INTERNAL' });
    expect(meshErrorOfCall(other, facts(true, false)).code).toBe(Code.FAILED_PRECONDITION);
    const proto = new ProtocolError(-32000, 'x', { 'io.agentmesh/code': 'toString' });
    expect(meshErrorOfCall(proto, facts(true, true)).code).toBe(Code.FAILED_PRECONDITION);
  });
});

describe('serverText: text from outside the mesh in messages', () => {
  test('credentials redacted, control characters gone, bounded', () => {
    const text = serverText('echo: Authorization: Bearer abc.def-123 key=STATIC-API-KEY\u001b[2J\nforged line', [
      'STATIC-API-KEY',
    ]);
    expect(text).toBe('echo: Authorization: Bearer [redacted] key=[redacted] [2J forged line');
    expect(serverText('x'.repeat(1000))).toHaveLength(300);
  });

  test('any other error after sending is scrubbed of the bearer sent', () => {
    const err = new Error('socket closed after: Bearer-less echo STATIC-API-KEY');
    const mapped = meshErrorOfCall(err, { ...facts(true, true), secrets: ['STATIC-API-KEY'] });
    expect(mapped.message).not.toContain('STATIC-API-KEY');
  });
});

describe('the executor and outcomeUnknown', () => {
  test('not retried even when the step timed out meanwhile (a DEADLINE_EXCEEDED would be)', async () => {
    const plan = TaskPlan.fromPartial({
      steps: [
        {
          id: 'pay',
          target: { $case: 'tool', tool: { service: 'partners/ledger', tool: 'book-payment' } },
          timeout: { seconds: 0, nanos: 50_000_000 },
          retry: { maxAttempts: 3 },
        },
      ],
    });
    const calls: StepCall[] = [];
    const outcome = await execute(plan, {
      taskId: 't',
      input: {},
      runner: {
        collaborator: () => 'tool:partners/ledger',
        run: (call) => {
          calls.push(call);
          // The call went out; the step's deadline passes before any answer.
          return new Promise((_, reject) =>
            call.signal.addEventListener('abort', () => reject(outcomeUnknown('outcome unknown: timed out'))),
          );
        },
      },
      hooks: {
        stepStarted: async () => undefined,
        stepFinished: async () => undefined,
        substituted: async () => undefined,
      },
      signal: new AbortController().signal,
      breakers: new Map<string, CircuitBreaker>(),
      state: { outputs: {}, skipped: [], interrupted: {}, answers: {} },
    });
    expect(calls).toHaveLength(1);
    expect(outcome).toMatchObject({ status: 'failed', stepId: 'pay', code: Code.UNKNOWN });
  });
});
