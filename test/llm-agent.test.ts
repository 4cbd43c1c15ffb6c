// An agent process planning with the LLM (OPENAI_* env) and running an LLM step on a model
// alias (AGENTMESH_MODELS), against the OpenAI-compatible double: the plan, the prompt, the
// models and the token usage are in the explanation, the metrics and the trace.
import { existsSync, readFileSync } from 'node:fs';
import { PlannerKind } from '../gen/agentmesh/v1/plan.js';
import { TaskState } from '../gen/agentmesh/v1/task.js';
import { requestMessage } from '../mesh/index.js';
import { httpRequest } from '../mesh/index.js';
import { scriptedModel, startTestMesh, type TestMesh } from '../mesh/testing/index.js';

const AGENT = 'demo/writer';

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
  let mesh: TestMesh;

  afterAll(() => mesh?.stop());

  test('the plan comes from the planning model, the step from the alias; both are recorded with their usage', async () => {
    const double = scriptedModel((body) =>
      body.response_format?.json_schema?.name === 'task_plan'
        ? { content: JSON.stringify(PLAN), usage: { prompt_tokens: 900, completion_tokens: 120 } }
        : body.model === 'check-model'
          ? { content: 'Yes, it is fair.', usage: { prompt_tokens: 30, completion_tokens: 5 } }
          : { content: '{"summary":"Budget approved."}', usage: { prompt_tokens: 40, completion_tokens: 6 } },
    );
    mesh = await startTestMesh({ agents: [AGENT] });
    await double.start();
    const agent = await mesh.startAgent('test/fixtures/llm-agent.ts', {
      name: AGENT,
      model: double,
      tracing: true,
      env: { AGENTMESH_MODELS: `summarizer=small-model,checker=check-model@${double.baseURL}` },
    });
    expect(await agent.process.waitForLog('agent planner')).toMatchObject({
      planner: 'llm (plan-model)',
      models: ['summarizer', 'checker'],
    });

    const writer = mesh.agent(AGENT);
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

    const metrics = (await httpRequest(`http://${agent.admin}/metrics`)).body.toString();
    expect(metrics).toContain(`agentmesh_llm_tokens_total{model="plan-model",kind="prompt",service="${AGENT}"} 900`);
    expect(metrics).toContain(`agentmesh_llm_tokens_total{model="small-model",kind="completion",service="${AGENT}"} 6`);

    // GenAI spans: one per model call, under the task's trace. Exported in batches by another
    // process: polled until both are written (jest's timeout is the bound).
    let spans: { name: string; traceId: string; attributes: Record<string, unknown> }[] = [];
    while (spans.filter((s) => s.name.startsWith('chat ')).length < 2) {
      await new Promise((r) => setTimeout(r, 100));
      // Only complete lines: a batch may be being written while the file is read.
      spans = existsSync(agent.traceFile)
        ? readFileSync(agent.traceFile, 'utf8')
            .split('\n')
            .slice(0, -1)
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
  }, 60_000);
});
