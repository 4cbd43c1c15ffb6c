import { parsePrometheus, summarizeMetrics } from './metrics-summary.js';

const TEXT = `# HELP grpc_server_handled_total RPCs completed on the server, by status code.
# TYPE grpc_server_handled_total counter
grpc_server_handled_total{grpc_type="unary",grpc_service="agentmesh.v1.AgentService",grpc_method="SendTask",grpc_code="OK",service="lending/x"} 3
grpc_server_handled_total{grpc_type="unary",grpc_service="agentmesh.v1.AgentService",grpc_method="SendTask",grpc_code="PERMISSION_DENIED",service="lending/x"} 1
grpc_server_handled_total{grpc_type="unary",grpc_service="agentmesh.v1.AgentService",grpc_method="GetTask",grpc_code="OK",service="lending/x"} 6
grpc_server_handling_seconds_bucket{le="0.005",grpc_method="SendTask"} 2
grpc_server_handling_seconds_bucket{le="0.01",grpc_method="SendTask"} 4
grpc_server_handling_seconds_bucket{le="+Inf",grpc_method="SendTask"} 4
grpc_server_handling_seconds_bucket{le="0.005",grpc_method="GetTask"} 6
grpc_server_handling_seconds_bucket{le="0.01",grpc_method="GetTask"} 6
grpc_server_handling_seconds_bucket{le="+Inf",grpc_method="GetTask"} 6
grpc_server_handling_seconds_sum{grpc_method="SendTask"} 0.5
grpc_server_handling_seconds_count{grpc_method="SendTask"} 4
grpc_server_handling_seconds_sum{grpc_method="GetTask"} 0.01
grpc_server_handling_seconds_count{grpc_method="GetTask"} 6
agentmesh_tasks{state="TASK_STATE_COMPLETED",service="lending/x"} 2
agentmesh_tasks{state="TASK_STATE_INPUT_REQUIRED",service="lending/x"} 1
agentmesh_pending_tasks{service="lending/x"} 1
grpc_server_handling_seconds_sum{grpc_type="server_stream",grpc_method="SubscribeTask"} 300
grpc_server_handling_seconds_count{grpc_type="server_stream",grpc_method="SubscribeTask"} 1
process_resident_memory_bytes{service="lending/x"} 52428800
odd line without value
`;

describe('summarizing a service /metrics for the operations view', () => {
  test('calls, server faults, mean and p95 latency of unary calls (not streams), tasks by state, pending and memory', () => {
    expect(summarizeMetrics(TEXT)).toEqual({
      calls: 10,
      faults: 0,
      meanLatencyMs: 51,
      p95LatencyMs: 10,
      tasksByState: { TASK_STATE_COMPLETED: 2, TASK_STATE_INPUT_REQUIRED: 1 },
      pendingTasks: 1,
      toolInvocations: {},
      residentBytes: 52428800,
    });
  });

  test('a service without calls has no latency; when more than 5 % are slower than every bound, p95 is unknown', () => {
    expect(summarizeMetrics('process_resident_memory_bytes 1\n')).toMatchObject({
      calls: 0,
      meanLatencyMs: undefined,
      p95LatencyMs: undefined,
      pendingTasks: undefined,
    });
    const slow =
      'grpc_server_handling_seconds_bucket{le="1"} 90\ngrpc_server_handling_seconds_bucket{le="+Inf"} 100\ngrpc_server_handling_seconds_count 100\ngrpc_server_handling_seconds_sum 200\n';
    expect(summarizeMetrics(slow).p95LatencyMs).toBeUndefined();
  });

  test('server faults count the calls the service failed, not the lookups and refusals it answered', () => {
    const handled = (code: string, n: number) =>
      `grpc_server_handled_total{grpc_type="unary",grpc_method="GetAgent",grpc_code="${code}"} ${n}\n`;
    const text = [
      ['OK', 100],
      ['NOT_FOUND', 44],
      ['INVALID_ARGUMENT', 3],
      ['PERMISSION_DENIED', 2],
      ['UNAUTHENTICATED', 1],
      ['ABORTED', 1],
      ['CANCELLED', 1],
      ['RESOURCE_EXHAUSTED', 1],
      ['INTERNAL', 2],
      ['UNKNOWN', 1],
      ['UNAVAILABLE', 3],
      ['DEADLINE_EXCEEDED', 1],
      ['DATA_LOSS', 1],
      ['UNIMPLEMENTED', 1],
    ]
      .map(([code, n]) => handled(code as string, n as number))
      .join('');
    expect(summarizeMetrics(text)).toMatchObject({ calls: 162, faults: 9 });
  });

  test('label values keep escaped quotes', () => {
    expect(parsePrometheus('x{a="say \\"hi\\"",b="c"} 2')).toEqual([
      { name: 'x', labels: { a: 'say "hi"', b: 'c' }, value: 2 },
    ]);
  });
});
