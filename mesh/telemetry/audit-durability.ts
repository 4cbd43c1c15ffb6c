/**
 * The mesh's own methods that change no state (what the proto's
 * `idempotency_level = NO_SIDE_EFFECTS` would say; ts-proto does not carry
 * method options, so the list is kept here): with an audit window configured,
 * their calls are answered before their audit record is durable. Everything
 * else (SendTask, CancelTask, ProvideInput, InvokeTool, registrations...) is
 * durable before the answer, always.
 */
export const READ_ONLY_METHODS: readonly string[] = [
  'agentmesh.v1.AgentService/GetTask',
  'agentmesh.v1.AgentService/SubscribeTask',
  'agentmesh.v1.AgentService/ExplainTask',
  'agentmesh.v1.AgentService/ListTasks',
  'agentmesh.v1.AgentService/GetAgentCard',
  'agentmesh.v1.ToolService/ListTools',
  'agentmesh.v1.RegistryService/GetAgent',
  'agentmesh.v1.RegistryService/ListAgents',
  'agentmesh.v1.RegistryService/GetToolService',
  'agentmesh.v1.RegistryService/ListToolServices',
  'agentmesh.v1.RegistryService/Discover',
  'agentmesh.v1.RegistryService/Watch',
  'lf.a2a.v1.A2AService/GetTask',
  'lf.a2a.v1.A2AService/ListTasks',
  'lf.a2a.v1.A2AService/SubscribeToTask',
  'lf.a2a.v1.A2AService/GetExtendedAgentCard',
  'lf.a2a.v1.A2AService/GetTaskPushNotificationConfig',
  'lf.a2a.v1.A2AService/ListTaskPushNotificationConfigs',
];

/** A method or a whole service as AGENTMESH_AUDIT_READ_METHODS names it: "pkg.Service/Method" or "pkg.Service/*". */
export const METHOD_PATTERN = /^[A-Za-z0-9_.]+\/(\*|[A-Za-z0-9_]+)$/;

/**
 * Whether a method ("pkg.Service/Method") changes no state: one of the
 * mesh's own read-only methods, or named in `more` (a service's own read-only
 * methods, or a whole service as "pkg.Service/*").
 */
export function readOnlyMethods(more: readonly string[] = []): (method: string) => boolean {
  const names = new Set([...READ_ONLY_METHODS, ...more]);
  const services = new Set(more.filter((m) => m.endsWith('/*')).map((m) => m.slice(0, -2)));
  return (method) => names.has(method) || (services.size > 0 && services.has(method.slice(0, method.indexOf('/'))));
}
