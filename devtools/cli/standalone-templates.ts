// The project files of a standalone agent or tool service (`agentmesh new agent <ns/name> --dir <folder>`):
// its own package depending on the packed framework, a test with agentmesh/testing, an image.

/** package.json: the framework is its only dependency (tsx runs main.ts; it comes with the framework). */
export function packageJson(service: string, kind: 'agent' | 'tool', framework: string): string {
  const name = service.replace('/', '-');
  return `${JSON.stringify(
    {
      name,
      version: '0.1.0',
      private: true,
      type: 'module',
      engines: { node: '>=24' },
      scripts: {
        start: 'node --import tsx main.ts',
        ...(kind === 'agent' ? { test: 'node --import tsx --test test/agent.test.ts' } : {}),
        typecheck: 'tsc --noEmit',
      },
      dependencies: { agentmesh: framework },
      devDependencies: { '@types/node': '^20.19.0', typescript: '~5.9.3' },
    },
    null,
    2,
  )}\n`;
}

/** tsconfig.json: strict ESM, checked but not emitted (tsx runs the sources). */
export const TSCONFIG = `${JSON.stringify(
  {
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      types: ['node'],
      strict: true,
      skipLibCheck: true,
      noEmit: true,
    },
    include: ['*.ts', 'test/**/*.ts'],
  },
  null,
  2,
)}\n`;

/** The agent's own test: a test mesh from agentmesh/testing, the agent started from main.ts, its example sent. */
export function agentTest(service: string): string {
  return `// Runs ${service} in a test mesh (authorization server, registry, real mTLS and tokens) and
// sends it its example: the playbook calls the classify tool and the task completes with its answer.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { startTestMesh, type TestMesh } from 'agentmesh/testing';
import { SendTaskRequest } from 'agentmesh/v1/agent_service.js';
import { Role, TaskState } from 'agentmesh/v1/task.js';

const SERVICE = '${service}';
let mesh: TestMesh;

before(async () => {
  mesh = await startTestMesh({ agents: [SERVICE] });
  await mesh.startAgent(fileURLToPath(new URL('../main.ts', import.meta.url)), { name: SERVICE });
});
after(() => mesh.stop());

test('an outage report goes to the technical queue, urgently', async () => {
  const { task } = await mesh.agent(SERVICE).sendTask(
    SendTaskRequest.fromPartial({
      requestId: randomUUID(),
      skillId: 'triage',
      message: {
        messageId: randomUUID(),
        role: Role.ROLE_USER,
        parts: [{ content: { $case: 'data', data: { text: 'Checkout is down, urgent!' } } }],
      },
      configuration: { blocking: true },
    }),
  );
  assert.equal(task?.status?.state, TaskState.TASK_STATE_COMPLETED, JSON.stringify(task?.status));
  assert.deepEqual(task?.artifacts[0]?.parts[0]?.content, { $case: 'data', data: { queue: 'technical', urgency: 'high' } });
});
`;
}

/** Dockerfile: the same image shape as the mesh's own services (non-root, production dependencies only). */
export const DOCKERFILE = `# syntax=docker/dockerfile:1
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev
COPY main.ts policy.json ./
USER node
# Configuration (identity, tokens, registry, secrets) comes from the environment: see README.md.
CMD ["node", "--import", "tsx", "main.ts"]
`;

export const GITIGNORE = 'node_modules/\n*.tgz\n';
export const DOCKERIGNORE = 'node_modules\n*.tgz\ntest\n.git\n';

/** README.md: what the project is and the commands to use it. */
export function readme(service: string, kind: 'agent' | 'tool'): string {
  return `# ${service}

An agentmesh ${kind} in its own repository (scaffolded by \`agentmesh new ${kind} ${service} --dir\`).
\`main.ts\` is the ${kind}; \`policy.json\` says who may call it (deny by default).

## Develop

    npm install
${kind === 'agent' ? '    npm test                     # a test mesh: real mTLS, tokens and registry\n' : ''}    npm run typecheck

## Run it in a local mesh

Start the mesh in an agentmesh checkout (\`npm start\`), then here:

    AGENTMESH_HOME=<checkout>/.agentmesh npm start
${kind === 'agent' ? `\nand from the checkout: \`npx agentmesh task ${service} --example 1\`.\n` : ''}
With \`AGENTMESH_HOME\` set, \`joinLocalMesh\` makes this process a member of that running mesh: a
certificate from its dev CA, an OAuth2 client registered with its authorization server, the
registry, and an entry in its \`mesh.json\`. It is for local development only: without
\`AGENTMESH_HOME\` it does nothing. See the framework's docs/standalone-agents.md.

## Deploy

\`Dockerfile\` builds the image. In a cluster the environment configures the service
(\`AGENTMESH_SERVICE\`, \`AGENTMESH_TRANSPORT=istio\`, \`AGENTMESH_OAUTH_ISSUER\`,
\`AGENTMESH_REGISTRY_ADDRESS\`, secrets from Vault); its Istio manifests are rendered from \`policy.json\`.
`;
}
