// An agent process planning with the LLM (OPENAI_* env) and running an LLM step on a model
// alias (AGENTMESH_MODELS), against the OpenAI-compatible double: the plan, the prompt, the
// models and the token usage are in the explanation, the metrics and the trace.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentServiceService } from '../gen/agentmesh/v1/agent_service.js';
import { PlannerKind } from '../gen/agentmesh/v1/plan.js';
import { TaskState } from '../gen/agentmesh/v1/task.js';
import { createClient } from '../mesh/index.js';
import { requestMessage } from '../devtools/cli/task-command.js';
import { httpRequest } from '../mesh/security/https-client.js';
import { spiffeIdOfService } from '../mesh/security/spiffe-id.js';
import { createLocalMeshFiles, localCaller, type LocalMeshFiles } from './helpers/local-auth.js';
import { OpenAiDouble } from './helpers/openai-double.js';
import { startProcess, waitForLog, type ServiceProcess } from './helpers/processes.js';

const AGENT = 'demo/writer';
const client = (id: string, scopes: string[], audiences: string[]) => ({
  client_id: id,
  auth: { method: 'client_secret_basic', secret_path: `agentmesh/clients/${id}` },
  scopes,
  audiences,
});

const PLAN = {
  goal: 'Summarise the notes',
  steps: [
    {
      id: 'lookup',
      description: 'find the notes',
      tool: { service: AGENT, tool: 'lookup' },
      arguments: { topic: '${input.topic}' },
    },
    {
      id: 'summarize',
      description: 'a short summary by the small model',
      llm: {
        model_alias: 'summarizer',
        prompt: 'Summarise: ${steps.lookup.output.text}',
        output_schema: { type: 'object', required: ['summary'], properties: { summary: { type: 'string' } } },
      },
      depends_on: ['lookup'],
    },
    {
      id: 'check',
      description: 'a second model, side by side, checks the summary',
      llm: { model_alias: 'checker', prompt: 'Is this a fair summary of the notes on ${input.topic}?' },
      arguments: { summary: '${steps.summarize.output.summary}' },
      depends_on: ['summarize'],
    },
  ],
  result_step_id: 'summarize',
};

describe('an agent that plans with an LLM and runs an LLM step on a model alias', () => {
  let files: LocalMeshFiles;
  let double: OpenAiDouble;
  const procs: ServiceProcess[] = [];

  afterAll(async () => {
    for (const p of procs) p.child.kill('SIGKILL');
    await double?.close();
    files?.cleanup();
  });

  test('the plan comes from the planning model, the step from the alias; both are recorded with their usage', async () => {
    double = await OpenAiDouble.start({
      answers: (body) =>
        body.response_format?.json_schema?.name === 'task_plan'
          ? { content: JSON.stringify(PLAN), usage: { prompt_tokens: 900, completion_tokens: 120 } }
          : body.model === 'check-model'
            ? { content: 'Yes, it is fair.', usage: { prompt_tokens: 30, completion_tokens: 5 } }
            : { content: '{"summary":"Budget approved."}', usage: { prompt_tokens: 40, completion_tokens: 6 } },
    });
    files = await createLocalMeshFiles([
      client('demo/caller', ['task.read', 'task.write'], [AGENT]),
      client(AGENT, [], []),
    ]);
    for (const id of ['demo/caller', AGENT])
      files.secrets[`agentmesh/clients/${id}`] = { client_secret: `${id}-secret-0123456789` };
    files.writeSecrets();
    const auth = startProcess(
      'services/auth/main.ts',
      files.serviceEnv('agentmesh/auth', { AGENTMESH_AUTH_CLIENTS_FILE: files.clientsFile }),
    );
    procs.push(auth);
    const issuer = String((await waitForLog(auth, 'authorization server listening')).issuer);
    const policyFile = join(files.dir, 'writer.policy.json');
    writeFileSync(
      policyFile,
      JSON.stringify({
        service: AGENT,
        rules: [
          {
            methods: ['agentmesh.v1.AgentService/*'],
            callers: ['spiffe://{trust_domain}/ns/demo/sa/caller'],
            scopes: [],
          },
        ],
      }),
    );
    const traceFile = join(files.dir, 'writer.jsonl');
    const agent = startProcess(
      'test/fixtures/llm-agent.ts',
      files.serviceEnv(AGENT, {
        AGENTMESH_OAUTH_ISSUER: issuer,
        AGENTMESH_POLICY_FILE: policyFile,
        AGENTMESH_DATA_DIR: join(files.dir, 'writer'),
        AGENTMESH_TRACE_FILE: traceFile,
        OPENAI_BASE_URL: double.baseURL,
        OPENAI_API_KEY: double.apiKey,
        AGENTMESH_MODELS: `summarizer=small-model,checker=check-model@${double.baseURL}`,
      }),
      { tracing: true },
    );
    procs.push(agent);
    const started = await waitForLog(agent, 'service started');
    expect(await waitForLog(agent, 'agent planner')).toMatchObject({
      planner: 'llm (plan-model)',
      models: ['summarizer', 'checker'],
    });

    const { transport, tokens } = localCaller(files, 'demo/caller', issuer);
    const writer = createClient(AgentServiceService, String(started.address), {
      credentials: transport.channelCredentials(spiffeIdOfService('agentmesh.local', AGENT)),
      metadataHooks: [tokens.metadataHook(AGENT)],
    });
    try {
      const { task } = await writer.sendTask({
        requestId: 'llm-1',
        skillId: 'summarize',
        message: requestMessage({ topic: 'budget' }, 'Summarise the budget notes'),
        configuration: { blocking: true, historyLength: 0, timeout: undefined },
      });
      expect(task?.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
      const result = task!.artifacts[0]!.parts[0]!.content;
      expect(result?.$case === 'data' && result.data).toEqual({ summary: 'Budget approved.' });

      const { explanation } = await writer.explainTask({ taskId: task!.id, maxDepth: 0 });
      expect(explanation?.plan).toMatchObject({ planner: PlannerKind.PLANNER_KIND_LLM, model: 'plan-model' });
      const attempt = explanation!.planning!.attempts[0]!;
      expect(attempt.usage).toEqual({ promptTokens: 900, completionTokens: 120 });
      // The planner was shown the agent's local tool and the alias it may use.
      expect(attempt.prompt).toContain('Finds the notes on a topic');
      expect(attempt.prompt).toContain('summarizer');
      const step = explanation!.execution.find((e) => e.stepId === 'summarize')!;
      expect(step.attempts[0]).toMatchObject({
        model: 'small-model',
        usage: { promptTokens: 40, completionTokens: 6 },
      });
      // The step's prompt was substituted (and logged, redacted) before the model saw it.
      const stepRequest = double.requests.find((r) => r.body.model === 'small-model')!;
      expect(stepRequest.body.messages.at(-1)!.content).toContain('Summarise: Notes on budget');
      const logged = explanation!.substitutions.find((s) => s.stepId === 'summarize' && s.path === '#prompt')!;
      expect(JSON.stringify(logged.value)).not.toContain('jane.doe@example.com');
      // The second alias answered the check step; its arguments and its prompt are both in the substitution log.
      const check = explanation!.execution.find((e) => e.stepId === 'check')!;
      expect(check).toMatchObject({ output: { text: 'Yes, it is fair.' } });
      expect(check.attempts[0]).toMatchObject({
        model: 'check-model',
        usage: { promptTokens: 30, completionTokens: 5 },
      });
      expect(explanation!.substitutions.filter((s) => s.stepId === 'check').map((s) => [s.path, s.source])).toEqual([
        ['/summary', 'steps.summarize.output.summary'],
        ['#prompt', 'input.topic'],
      ]);
      expect(double.requests.find((r) => r.body.model === 'check-model')!.body.messages.at(-1)!.content).toBe(
        'Is this a fair summary of the notes on budget?\n\nInput (JSON): {"summary":"Budget approved."}',
      );

      const metrics = (await httpRequest(`http://${String(started.admin)}/metrics`)).body.toString();
      expect(metrics).toContain(`agentmesh_llm_tokens_total{model="plan-model",kind="prompt",service="${AGENT}"} 900`);
      expect(metrics).toContain(
        `agentmesh_llm_tokens_total{model="small-model",kind="completion",service="${AGENT}"} 6`,
      );

      // GenAI spans: one per model call, under the task's trace.
      let spans: { name: string; traceId: string; attributes: Record<string, unknown> }[] = [];
      for (let i = 0; i < 40 && spans.filter((s) => s.name.startsWith('chat ')).length < 2; i++) {
        await new Promise((r) => setTimeout(r, 100));
        spans = existsSync(traceFile)
          ? readFileSync(traceFile, 'utf8')
              .trim()
              .split('\n')
              .map((l) => JSON.parse(l) as (typeof spans)[number])
          : [];
      }
      const chat = spans.find((s) => s.name === 'chat small-model')!;
      expect(chat.attributes).toMatchObject({
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': 'small-model',
        'gen_ai.usage.input_tokens': 40,
        'gen_ai.usage.output_tokens': 6,
      });
      expect(chat.traceId).toBe(task!.traceId);
    } finally {
      writer.close();
      transport.close();
    }
  }, 60_000);
});
