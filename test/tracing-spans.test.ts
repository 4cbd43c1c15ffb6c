// The spans of gRPC calls, made by the mesh's server kernel and client (mesh/telemetry/trace-grpc.ts):
// names, kinds, attributes and status as OpenTelemetry's grpc instrumentation made them, the
// caller's trace joined through `traceparent`, and a call made inside a handler in its server span.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentServiceService } from '../gen/agentmesh/v1/agent_service.js';
import { Task } from '../gen/agentmesh/v1/task.js';
import { Code, MeshError, type MeshClient } from '../mesh/index.js';
import { initTracing, meshTracer, shutdownTracing, traceHeaders } from '../mesh/telemetry/index.js';
import { captureLogger } from './helpers/log-capture.js';
import { plaintextClient, startServer, type StartedServer } from './helpers/servers.js';

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  status: { code: number; message?: string };
  attributes: Record<string, unknown>;
}

const SERVER = 1;
const CLIENT = 2;
const dir = mkdtempSync(join(tmpdir(), 'agentmesh-spans-'));
const file = join(dir, 'spans.jsonl');
const capture = captureLogger('test/traced');
let started: StartedServer;
let outer: MeshClient<typeof AgentServiceService>;
let inner: MeshClient<typeof AgentServiceService>;
let spans: Span[] = [];
let headersInSpan: { traceId: string; spanId: string; headers: Record<string, string> } | undefined;

beforeAll(async () => {
  initTracing({ service: 'test/traced', file, env: {} });
  started = await startServer(
    (s) =>
      s.add(AgentServiceService, {
        // A handler that calls another service: that call belongs to the handler's call's trace.
        async getTask(req, ctx) {
          ctx.log.info('looking up');
          await inner.cancelTask({ taskId: req.taskId, reason: 'probe' }, { parent: ctx }).catch(() => undefined);
          return { task: Task.fromPartial({ id: req.taskId }) };
        },
        async cancelTask() {
          throw new MeshError(Code.NOT_FOUND, 'task: no such task');
        },
      }),
    capture.log,
  );
  outer = plaintextClient(AgentServiceService, started.address);
  inner = plaintextClient(AgentServiceService, started.address);
  await meshTracer().startActiveSpan('caller', async (span) => {
    await outer.getTask({ taskId: 't-1', historyLength: 0 });
    span.end();
  });
  meshTracer().startActiveSpan('step', (span) => {
    headersInSpan = { ...span.spanContext(), headers: traceHeaders() };
    span.end();
  });
  await started.stop();
  await shutdownTracing();
  spans = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Span);
});

afterAll(() => {
  outer?.close();
  inner?.close();
  rmSync(dir, { recursive: true, force: true });
});

const find = (name: string, kind: number) => {
  const span = spans.find((s) => s.name === `grpc.agentmesh.v1.AgentService/${name}` && s.kind === kind);
  expect(span).toBeDefined();
  return span!;
};

test('a call is a CLIENT span under the caller and a SERVER span under that, named and labelled as before', () => {
  const caller = spans.find((s) => s.name === 'caller')!;
  const client = find('GetTask', CLIENT);
  const server = find('GetTask', SERVER);
  expect(client.parentSpanId).toBe(caller.spanId);
  expect(server.parentSpanId).toBe(client.spanId);
  expect(new Set([client.traceId, server.traceId])).toEqual(new Set([caller.traceId]));
  for (const span of [client, server])
    expect(span.attributes).toMatchObject({
      'rpc.system': 'grpc',
      'rpc.service': 'agentmesh.v1.AgentService',
      'rpc.method': 'GetTask',
      'rpc.grpc.status_code': 0,
    });
  expect(client.attributes).toMatchObject({ 'server.address': '127.0.0.1', 'server.port': started.port });
  expect(server.status.code).toBe(0);
});

test("a call made inside a handler joins the handler's trace; a failed call's spans carry its status", () => {
  const server = find('GetTask', SERVER);
  const innerClient = find('CancelTask', CLIENT);
  const innerServer = find('CancelTask', SERVER);
  expect(innerClient.parentSpanId).toBe(server.spanId);
  expect(innerServer.parentSpanId).toBe(innerClient.spanId);
  for (const span of [innerClient, innerServer]) {
    expect(span.traceId).toBe(server.traceId);
    expect(span.attributes).toMatchObject({
      'rpc.grpc.status_code': Code.NOT_FOUND,
      'grpc.error_message': expect.stringContaining('task: no such task'),
    });
    expect(span.status).toMatchObject({ code: 2, message: expect.stringContaining('task: no such task') });
  }
});

test("the handler's log line names the trace and its server span", () => {
  const line = capture.lines.find((l) => l.msg === 'looking up');
  const server = find('GetTask', SERVER);
  expect(line).toMatchObject({ trace_id: server.traceId, span_id: server.spanId });
});

test("a library's own gRPC client (the A2A SDK's) gets the active span's traceparent as headers, none once tracing is off", () => {
  const { traceId, spanId, headers } = headersInSpan!;
  expect(headers).toEqual({ traceparent: `00-${traceId}-${spanId}-01` });
  expect(traceHeaders()).toEqual({});
});
