import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Latency buckets for gRPC handling, seconds: 0.5 ms to 10 s. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The metrics of one service, on its own registry (so tests and several
 * services in one process never share counters). Names follow the usual
 * go-grpc-prometheus conventions (grpc_server_*) and agentmesh_* for ours.
 */
export class MeshMetrics {
  readonly registry = new Registry();

  readonly grpcStarted = new Counter({
    name: 'grpc_server_started_total',
    help: 'RPCs started on the server.',
    labelNames: ['grpc_type', 'grpc_service', 'grpc_method'],
    registers: [this.registry],
  });
  readonly grpcHandled = new Counter({
    name: 'grpc_server_handled_total',
    help: 'RPCs completed on the server, by status code.',
    labelNames: ['grpc_type', 'grpc_service', 'grpc_method', 'grpc_code'],
    registers: [this.registry],
  });
  readonly grpcLatency = new Histogram({
    name: 'grpc_server_handling_seconds',
    help: 'Time from receiving an RPC to sending its status.',
    labelNames: ['grpc_type', 'grpc_service', 'grpc_method'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly tokenFailures = new Counter({
    name: 'agentmesh_token_verification_failures_total',
    help: 'Access tokens refused, by reason.',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly toolInvocations = new Counter({
    name: 'agentmesh_tool_invocations_total',
    help: 'Tool invocations, by tool and outcome.',
    labelNames: ['tool', 'outcome'],
    registers: [this.registry],
  });
  readonly tasks = new Gauge({
    name: 'agentmesh_tasks',
    help: 'Tasks held by this agent, by state.',
    labelNames: ['state'],
    registers: [this.registry],
  });
  readonly planSteps = new Counter({
    name: 'agentmesh_plan_steps_total',
    help: 'Plan steps finished, by kind and outcome.',
    labelNames: ['kind', 'outcome'],
    registers: [this.registry],
  });
  readonly conversationDepth = new Histogram({
    name: 'agentmesh_conversation_depth',
    help: 'Messages per conversation when a task finishes.',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers: [this.registry],
  });
  readonly taskLeases = new Counter({
    name: 'agentmesh_task_leases_total',
    help: 'Task lease events of this replica: takeover (took a task whose lease had lapsed) and lost (a run stopped because another replica or a cancel took its lease).',
    labelNames: ['event'],
    registers: [this.registry],
  });
  readonly pendingTasks = new Gauge({
    name: 'agentmesh_pending_tasks',
    help: 'Tasks not yet in a terminal state.',
    registers: [this.registry],
  });
  readonly llmTokens = new Counter({
    name: 'agentmesh_llm_tokens_total',
    help: 'Language model tokens used, by model and kind (prompt, completion).',
    labelNames: ['model', 'kind'],
    registers: [this.registry],
  });

  readonly auditUnwritten = new Counter({
    name: 'agentmesh_audit_unwritten_total',
    help: 'Audit records of calls answered within the audit window (AGENTMESH_AUDIT_READ_WINDOW_MS) whose write then failed.',
    registers: [this.registry],
  });

  readonly discoveryStale = new Gauge({
    name: 'agentmesh_discovery_stale',
    help: '1 while discovery answers come from the cache because the registry is unreachable.',
    registers: [this.registry],
  });
  readonly registration = new Gauge({
    name: 'agentmesh_registered',
    help: '1 while this service holds a registry lease.',
    registers: [this.registry],
  });

  constructor(service: string) {
    this.registry.setDefaultLabels({ service });
    // Process CPU, memory, file descriptors and event-loop lag (nodejs_eventloop_lag_*).
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 });
  }

  /** The Prometheus text exposition. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
