import type { ServicePolicy } from '../security/index.js';

// The local mesh's own tools (devtools/cli) and web console call agents with these workload identities.
const MESH_TOOLS = ['spiffe://{trust_domain}/ns/agentmesh/sa/cli', 'spiffe://{trust_domain}/ns/agentmesh/sa/console'];

/**
 * The caller policy of an agent that names none (no policy option, no
 * AGENTMESH_POLICY_FILE): deny by default, usable in the local mesh. The CLI and
 * the console send, steer, answer (task.write) and follow (task.read) tasks —
 * the agent's task access policy decides which tasks each person sees (runtime.md); any workload of the
 * trust domain reads the card. Other agents are not allowed in: a team grants
 * its collaborators with a policy of its own.
 */
export function defaultAgentPolicy(service: string): ServicePolicy {
  return {
    service,
    rules: [
      {
        description: 'the mesh CLI and console send, steer and answer tasks (built-in default)',
        methods: [
          'agentmesh.v1.AgentService/SendTask',
          'agentmesh.v1.AgentService/StreamTask',
          'agentmesh.v1.AgentService/CancelTask',
          'agentmesh.v1.AgentService/ProvideInput',
        ],
        callers: MESH_TOOLS,
        scopes: ['task.write'],
      },
      {
        description: 'the mesh CLI and console follow and explain tasks (built-in default)',
        methods: [
          'agentmesh.v1.AgentService/GetTask',
          'agentmesh.v1.AgentService/SubscribeTask',
          'agentmesh.v1.AgentService/ExplainTask',
          'agentmesh.v1.AgentService/ListTasks',
        ],
        callers: MESH_TOOLS,
        scopes: ['task.read'],
      },
      {
        description: 'any workload of the trust domain reads the card (built-in default)',
        methods: ['agentmesh.v1.AgentService/GetAgentCard'],
        callers: ['spiffe://{trust_domain}/ns/*/sa/*'],
        scopes: [],
      },
    ],
  };
}

/**
 * The caller policy of a tool service that names none: deny by default; the
 * workloads of the service's own namespace (its team's agents) list and invoke
 * the tools with a token carrying tools.invoke. Callers from other namespaces
 * need a policy of the service's own.
 */
export function defaultToolPolicy(service: string): ServicePolicy {
  const namespace = service.split('/')[0]!;
  return {
    service,
    rules: [
      {
        description: `workloads of the ${namespace} namespace list and invoke the tools (built-in default)`,
        methods: ['agentmesh.v1.ToolService/ListTools', 'agentmesh.v1.ToolService/InvokeTool'],
        callers: [`spiffe://{trust_domain}/ns/${namespace}/sa/*`],
        scopes: ['tools.invoke'],
      },
    ],
  };
}
