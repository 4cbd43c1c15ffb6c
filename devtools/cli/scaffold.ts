import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CliError } from './connection.js';

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\/[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function agentSource(service: string): string {
  const [ns] = service.split('/');
  return `// ${service}: scaffolded by \`agentmesh new agent\`. Edit the card, the playbook and the
// local tool; \`npm start\` runs it with security, telemetry, state and registration on.
import { fileURLToPath } from 'node:url';
import { runAgent } from '../../../mesh/index.js';

const SERVICE = '${service}';

await runAgent({
  policy: fileURLToPath(new URL('./policy.json', import.meta.url)),
  card: {
    name: SERVICE,
    version: '0.1.0',
    purpose: 'Greets people (a starting point: replace with what this agent is for).',
    owner: 'team-${ns}',
    // The model it plans with when OPENAI_API_KEY is set (OPENAI_MODEL overrides); offline it follows its playbook.
    model: { provider: 'openai', model: 'gpt-4o-mini' },
    skills: [
      {
        id: 'greet',
        name: 'Greet',
        description: 'Greets a person by name.',
        tags: ['example'],
        inputSchema: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string', minLength: 1, maxLength: 100 } } },
        outputSchema: { type: 'object', required: ['greeting'] },
        examples: [{ title: 'Greet Ada', text: 'Say hello to Ada', input: { name: 'Ada' } }],
      },
    ],
  },
  // Local tools run inside this process; plan steps call them with the agent's own name as service.
  tools: [
    {
      name: 'greet',
      description: 'Makes a greeting.',
      argumentsSchema: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
      resultSchema: { type: 'object', required: ['greeting'], properties: { greeting: { type: 'string' } } },
      idempotent: true,
      handler: async (args) => ({ greeting: \`Hello, \${String(args.name)}!\` }),
    },
  ],
  playbooks: {
    greet: {
      goal: 'Greet \${input.name}',
      steps: [{ id: 'greet', description: 'make the greeting', target: { $case: 'tool', tool: { service: SERVICE, tool: 'greet' } }, arguments: { name: '\${input.name}' } }],
    },
  },
});
`;
}

function toolSource(service: string): string {
  const [ns] = service.split('/');
  return `// ${service}: scaffolded by \`agentmesh new tool\`. Replace the example tool with yours;
// arguments and results are checked against the schemas before and after the handler.
import { fileURLToPath } from 'node:url';
import { runToolService } from '../../../mesh/index.js';

await runToolService(
  { name: '${service}', version: '0.1.0', purpose: 'Counts words (a starting point: replace with what this service is for).', owner: 'team-${ns}' },
  [
    {
      name: 'count-words',
      description: 'Counts the words of a text.',
      argumentsSchema: { type: 'object', required: ['text'], additionalProperties: false, properties: { text: { type: 'string', maxLength: 100000 } } },
      resultSchema: { type: 'object', required: ['words'], properties: { words: { type: 'integer' } } },
      idempotent: true,
      examples: [{ title: 'Three words', input: { text: 'one two three' } }],
      handler: async (args) => ({ words: String(args.text).split(/\\s+/).filter(Boolean).length }),
    },
  ],
  { policy: fileURLToPath(new URL('./policy.json', import.meta.url)) },
);
`;
}

function policyOf(kind: 'agent' | 'tool', service: string): object {
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
  return {
    service,
    rules: [
      {
        description: 'send, steer and answer tasks',
        methods: [
          'agentmesh.v1.AgentService/SendTask',
          'agentmesh.v1.AgentService/StreamTask',
          'agentmesh.v1.AgentService/CancelTask',
          'agentmesh.v1.AgentService/ProvideInput',
        ],
        callers,
        scopes: ['task.write'],
      },
      {
        description: 'follow and explain tasks',
        methods: [
          'agentmesh.v1.AgentService/GetTask',
          'agentmesh.v1.AgentService/SubscribeTask',
          'agentmesh.v1.AgentService/ExplainTask',
        ],
        callers,
        scopes: ['task.read'],
      },
      {
        description: 'any workload of the mesh may read the card',
        methods: ['agentmesh.v1.AgentService/GetAgentCard'],
        callers: ['spiffe://{trust_domain}/ns/*/sa/*'],
        scopes: [],
      },
    ],
  };
}

/** `agentmesh new agent|tool ns/name`: writes services/<kind>s/<name>/{main.ts,policy.json} and adds it to services/local-mesh.json. */
export function scaffold(root: string, kind: 'agent' | 'tool', service: string): string[] {
  if (!NAME.test(service))
    throw new CliError(
      `"${service}": a service name is namespace/name, lower-case letters, digits and dashes (e.g. lending/fraud-check)`,
    );
  const manifestFile = join(root, 'services', 'local-mesh.json');
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as {
    services: { name: string; kind: string; entry: string }[];
  };
  if (manifest.services.some((s) => s.name === service))
    throw new CliError(`${service} already exists in services/local-mesh.json`);
  const dir = join(root, 'services', `${kind}s`, service.split('/')[1]!);
  if (existsSync(dir)) throw new CliError(`${relative(root, dir)} already exists; pick another name`);
  mkdirSync(dir, { recursive: true });
  const main = join(dir, 'main.ts');
  const policy = join(dir, 'policy.json');
  writeFileSync(main, kind === 'agent' ? agentSource(service) : toolSource(service));
  writeFileSync(policy, `${JSON.stringify(policyOf(kind, service), null, 2)}\n`);
  const entry = { name: service, kind, entry: relative(root, main) };
  // Tools start before agents; keep the file in that order.
  const at = kind === 'tool' ? manifest.services.findIndex((s) => s.kind === 'agent') : -1;
  if (at >= 0) manifest.services.splice(at, 0, entry);
  else manifest.services.push(entry);
  writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  return [relative(root, main), relative(root, policy), 'services/local-mesh.json'];
}
