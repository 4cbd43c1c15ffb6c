// The main.ts and policy.json `agentmesh new agent|tool` writes: the same shape in this
// repository (services/<kind>s/<name>) and in a standalone project (--dir), only the framework
// import and the local-mesh join differ.

/** Where the generated code imports the framework from, and whether it joins a local mesh itself. */
export interface TemplateTarget {
  framework: string;
  standalone: boolean;
}

/** The scaffolded agent: a skill with schema and example, a playbook step calling a local tool, a card with policies. */
export function agentSource(service: string, target: TemplateTarget): string {
  const [ns] = service.split('/');
  const join = target.standalone
    ? `// Local development only: with AGENTMESH_HOME naming a running local mesh, joins it (see README.md).
await joinLocalMesh(SERVICE, { policyFile: POLICY });
`
    : '';
  return `// ${service}: scaffolded by \`agentmesh new agent\`. Replace the card, the tool and the playbook with yours;
// security, telemetry, state and registration come from the framework.
import { fileURLToPath } from 'node:url';
import { ${target.standalone ? 'joinLocalMesh, ' : ''}runAgent } from '${target.framework}';

const SERVICE = '${service}';
const POLICY = fileURLToPath(new URL('./policy.json', import.meta.url));
const CLASSIFY = { $case: 'tool', tool: { service: SERVICE, tool: 'classify' } } as const;
${join}
await runAgent({
  policy: POLICY,
  card: {
    name: SERVICE,
    version: '0.1.0',
    purpose: 'Routes incoming requests to the right queue.',
    owner: 'team-${ns}',
    policies: [{ id: '${ns}/data-minimisation', description: 'Reads the request text only; keeps no personal data.' }],
    skills: [
      {
        id: 'triage',
        description: 'Picks the queue and the urgency of a request.',
        inputSchema: { type: 'object', required: ['text'], properties: { text: { type: 'string', maxLength: 2000 } } },
        examples: [{ title: 'An outage', input: { text: 'Checkout is down, urgent!' } }],
      },
    ],
  },
  // Local tools run in this process; a plan step calls them with the agent's own name as service.
  tools: [
    {
      name: 'classify',
      description: 'Picks the queue and the urgency of a request from its words.',
      argumentsSchema: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } },
      idempotent: true,
      handler: async ({ text }) => ({
        queue: /invoice|refund/i.test(String(text)) ? 'billing' : 'technical',
        urgency: /urgent|down/i.test(String(text)) ? 'high' : 'normal',
      }),
    },
  ],
  // The pre-approved plan of the skill: one step, calling the tool with the task's text.
  playbooks: { triage: { steps: [{ id: 'classify', target: CLASSIFY, arguments: { text: '\${input.text}' } }] } },
});
`;
}

/** The scaffolded tool service: one tool with schemas, an example and an idempotent handler. */
export function toolSource(service: string, target: TemplateTarget): string {
  const [ns] = service.split('/');
  const join = target.standalone
    ? `
// Local development only: with AGENTMESH_HOME naming a running local mesh, joins it (see README.md).
await joinLocalMesh(SERVICE, { kind: 'tool', policyFile: POLICY });
`
    : '';
  return `// ${service}: scaffolded by \`agentmesh new tool\`. Replace the example tool with yours;
// arguments and results are checked against the schemas before and after the handler.
import { fileURLToPath } from 'node:url';
import { ${target.standalone ? 'joinLocalMesh, ' : ''}runToolService } from '${target.framework}';

const SERVICE = '${service}';
const POLICY = fileURLToPath(new URL('./policy.json', import.meta.url));
${join}
await runToolService({ name: SERVICE, version: '0.1.0', purpose: 'Counts words.', owner: 'team-${ns}' }, [
  {
    name: 'count-words',
    description: 'Counts the words of a text.',
    argumentsSchema: { type: 'object', required: ['text'], additionalProperties: false, properties: { text: { type: 'string', maxLength: 100000 } } },
    resultSchema: { type: 'object', required: ['words'], properties: { words: { type: 'integer' } } },
    idempotent: true,
    examples: [{ title: 'Three words', input: { text: 'one two three' } }],
    handler: async (args) => ({ words: String(args.text).split(/\\s+/).filter(Boolean).length }),
  },
], { policy: POLICY });
`;
}

const TASK_METHODS = ['SendTask', 'StreamTask', 'CancelTask', 'ProvideInput'];
const READ_METHODS = ['GetTask', 'SubscribeTask', 'ExplainTask'];

/** Deny by default: the CLI and the console may use the agent, the namespace's agents its tools, any workload the card. */
export function policyOf(kind: 'agent' | 'tool', service: string): object {
  const [ns] = service.split('/');
  if (kind === 'tool') {
    return {
      service,
      rules: [
        {
          description: `agents of the ${ns} namespace call these tools`,
          methods: ['agentmesh.v1.ToolService/ListTools', 'agentmesh.v1.ToolService/InvokeTool'],
          callers: [`spiffe://{trust_domain}/ns/${ns}/sa/*`],
          scopes: ['tools.invoke'],
        },
      ],
    };
  }
  const callers = ['spiffe://{trust_domain}/ns/agentmesh/sa/cli', 'spiffe://{trust_domain}/ns/agentmesh/sa/console'];
  const method = (m: string) => `agentmesh.v1.AgentService/${m}`;
  return {
    service,
    rules: [
      {
        description: 'send, steer and answer tasks',
        methods: TASK_METHODS.map(method),
        callers,
        scopes: ['task.write'],
      },
      { description: 'follow and explain tasks', methods: READ_METHODS.map(method), callers, scopes: ['task.read'] },
      {
        description: 'any workload of the mesh may read the card',
        methods: [method('GetAgentCard')],
        callers: ['spiffe://{trust_domain}/ns/*/sa/*'],
        scopes: [],
      },
    ],
  };
}
