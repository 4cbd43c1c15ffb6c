import type OpenAI from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { Logger } from 'pino';
import { PlanningRecord } from '../../gen/agentmesh/v1/explain.js';
import { PlannerKind, TaskPlan, type HumanTarget, type PlanStep } from '../../gen/agentmesh/v1/plan.js';
import { isMeshError } from '../core/index.js';
import type { MeshMetrics } from '../telemetry/index.js';
import { ChatModel } from './chat-model.js';
import type { InventoryItem } from './inventory.js';
import { validatePlan } from './plan-validation.js';
import {
  elapsedSince,
  newPlanIdentity,
  noValidPlan,
  throwIfAborted,
  type Planner,
  type PlanningInput,
  type PlanningOutcome,
} from './planner.js';
import { compileSchema } from './schema-validator.js';

const obj = { type: 'object' } as const;
const str = { type: 'string' } as const;

/** The JSON Schema of the plan the LLM planner asks for and accepts (snake_case, as in the proto's JSON form). */
export const PLAN_JSON_SCHEMA = {
  type: 'object',
  required: ['steps'],
  properties: {
    goal: { type: 'string', description: 'The objective, restated in one sentence.' },
    steps: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['id'],
        description: 'Exactly one of tool, agent, llm, human.',
        properties: {
          id: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' },
          description: { type: 'string', description: 'Why this step is part of the plan.' },
          tool: { type: 'object', required: ['service', 'tool'], properties: { service: str, tool: str } },
          agent: { type: 'object', required: ['agent', 'skill_id'], properties: { agent: str, skill_id: str } },
          llm: {
            type: 'object',
            required: ['model_alias', 'prompt'],
            properties: { model_alias: str, system_prompt: str, prompt: str, output_schema: obj },
          },
          human: {
            type: 'object',
            required: ['prompt'],
            properties: { prompt: str, input_schema: obj, choices: { type: 'array', items: str } },
          },
          arguments: { type: 'object', description: 'Arguments for the tool or agent skill, matching its schema.' },
          depends_on: { type: 'array', items: str },
          run_if: { type: 'string', description: 'CEL over input and steps; the step is skipped when false.' },
          acceptance: { type: 'object', properties: { output_schema: obj, cel: { type: 'array', items: str } } },
        },
      },
    },
    result_step_id: { type: 'string', description: 'The step whose output answers the request (default: the last).' },
  },
} as const;

const planShape = compileSchema(PLAN_JSON_SCHEMA as unknown as Record<string, unknown>);
const TARGETS = ['tool', 'agent', 'llm', 'human'] as const;

/** Who answers the human steps of model-made plans (the agent's rule, never the model's). */
export type ModelApprovals = Partial<
  Pick<HumanTarget, 'approverRoles' | 'approverScopes' | 'requiredApprovals' | 'answerWithin'>
>;

/** Settings of an LlmPlanner. */
export interface LlmPlannerOptions {
  /** Who answers the human steps of its plans; unset: they are questions to the task's subject. */
  approvals?: ModelApprovals;
  /** An OpenAI client for any OpenAI-compatible endpoint (baseURL, apiKey, maxRetries set there). */
  client: OpenAI;
  model: string;
  /** Answers asked for in total, the first included (default 3). */
  maxAttempts?: number;
  /** Model aliases that LLM steps may name. */
  llmAliases?: string[];
  log?: Logger;
  /** Where LLM token usage is counted (agentmesh_llm_tokens_total). */
  metrics?: MeshMetrics;
}

const catalogue = (inventory: InventoryItem[]) =>
  inventory.map((i) =>
    i.kind === 'tool'
      ? {
          tool: { service: i.service, tool: i.tool.name },
          description: i.tool.description,
          arguments_schema: i.tool.argumentsSchema ?? {},
        }
      : {
          agent: { agent: i.agent, skill_id: i.skill.id },
          name: i.skill.name,
          description: i.skill.description,
          arguments_schema: i.skill.inputSchema ?? {},
        },
  );

function systemPrompt(inventory: InventoryItem[], aliases: string[]): string {
  return [
    'You are the planner of an agent. Turn the request into a task plan: one JSON object matching the JSON Schema below. Answer with that JSON object only.',
    'Rules:',
    '- Every step has exactly one target: "tool" (call a tool), "agent" (give a sub-task to a skill of another agent), "llm" (a small question to a configured model alias) or "human" (ask a person).',
    '- Use only the collaborators listed below, named exactly as listed; "arguments" must satisfy the listed arguments_schema.',
    '- Step ids are unique and match ^[a-z0-9][a-z0-9_-]{0,62}$.',
    '- A string may be exactly "${input.<path>}" (from the task input) or "${steps.<id>.output.<path>}" (from an earlier step\'s output), or contain them in text. A step using ${steps.<id>...} must depend on <id>, directly or through other steps.',
    '- depends_on lists step ids and must not form a cycle; steps that do not depend on each other run in parallel.',
    '- run_if (optional): a CEL expression over `input` and `steps`, e.g. steps.check.output.approved == true.',
    "- acceptance.cel (optional): CEL expressions over `input`, `output` and `steps` that the step's output must satisfy.",
    `LLM model aliases: ${aliases.length > 0 ? aliases.join(', ') : 'none (do not use llm steps)'}.`,
    `JSON Schema of the plan:\n${JSON.stringify(PLAN_JSON_SCHEMA)}`,
    `Collaborators:\n${JSON.stringify(catalogue(inventory), null, 1)}`,
  ].join('\n');
}

function requestPrompt(input: PlanningInput): string {
  const hint = input.goalHint ? `Skill description: ${input.goalHint}\n` : '';
  return `Skill: ${input.skillId}\n${hint}Request: ${input.text}\nInput (JSON): ${JSON.stringify(input.input)}`;
}

/** The answer as plan JSON, or why it is not one (shape errors first: fromJSON would silently drop them). */
function parseAnswer(raw: string): { json?: Record<string, unknown>; errors: string[] } {
  const text = raw.trim().replace(/^```(?:json)?\s*([\s\S]*?)\s*```$/, '$1');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { errors: [`the answer is not JSON: ${(err as Error).message}`] };
  }
  try {
    planShape.assert(json, 'plan');
  } catch (err) {
    return { errors: [isMeshError(err) ? err.message : String(err)] };
  }
  const steps = (json as { steps: Record<string, unknown>[] }).steps;
  const errors = steps.flatMap((s, i) => {
    const present = TARGETS.filter((t) => s[t] !== undefined && s[t] !== null);
    return present.length > 1
      ? [`step "${String(s.id ?? i)}": has ${present.length} targets (${present.join(', ')}); give exactly one`]
      : [];
  });
  return { json: json as Record<string, unknown>, errors };
}

/**
 * Plans with a language model: asks for plan JSON (structured output where the
 * endpoint supports it), validates it against the inventory, and re-asks with
 * the errors up to maxAttempts times. Every attempt goes into the record.
 */
export class LlmPlanner implements Planner {
  private readonly maxAttempts: number;
  private readonly chat: ChatModel;

  constructor(private readonly options: LlmPlannerOptions) {
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 3);
    this.chat = new ChatModel(options.client, options.model, { metrics: options.metrics, log: options.log });
  }

  /** Plans one task; see Planner for the error contract. */
  // A human step gets the agent's approvers, whatever the model wrote there.
  private governed(step: PlanStep): PlanStep['target'] {
    const t = step.target;
    if (t?.$case !== 'human') return t;
    const a = this.options.approvals;
    return {
      $case: 'human',
      human: {
        ...t.human,
        approverRoles: a?.approverRoles ?? [],
        approverScopes: a?.approverScopes ?? [],
        requiredApprovals: a?.requiredApprovals ?? 0,
        allowSelfApproval: false,
        answerWithin: a?.answerWithin,
      },
    };
  }

  async plan(input: PlanningInput, signal?: AbortSignal): Promise<PlanningOutcome> {
    const { model, llmAliases = [] } = this.options;
    const messages: ChatCompletionMessageParam[] = [
      { role: 'system', content: systemPrompt(input.inventory, llmAliases) },
      { role: 'user', content: requestPrompt(input) },
    ];
    const record = PlanningRecord.fromPartial({ planner: PlannerKind.PLANNER_KIND_LLM, model });
    let errors: string[] = [];
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      throwIfAborted(signal);
      const started = performance.now();
      const startedAt = new Date();
      const prompt = JSON.stringify(messages);
      const { completion, usage } = await this.chat.complete(messages, {
        jsonSchema: { name: 'task_plan', schema: PLAN_JSON_SCHEMA as unknown as Record<string, unknown> },
        signal,
      });
      const choice = completion.choices[0];
      const raw = choice?.message.content ?? '';
      const parsed = parseAnswer(raw);
      errors = parsed.errors;
      if (choice?.message.refusal) errors = [`the model refused: ${choice.message.refusal}`];
      else if (choice?.finish_reason === 'length')
        errors = ['the answer was cut off (finish_reason "length"); give a shorter plan', ...errors];
      let plan: TaskPlan | undefined;
      if (parsed.json && errors.length === 0) {
        plan = {
          ...TaskPlan.fromJSON(parsed.json),
          ...newPlanIdentity(input.taskId),
          planner: PlannerKind.PLANNER_KIND_LLM,
          model,
          playbookId: '',
        };
        // Retries, timeouts and who approves are the agent's policy, not the model's: not in the schema,
        // replaced if sent anyway (a request's text must not talk a model into self-approval).
        plan.steps = plan.steps.map((s) => ({ ...s, retry: undefined, timeout: undefined, target: this.governed(s) }));
        errors = validatePlan(plan, input.inventory, { llmAliases });
      }
      record.attempts.push({
        attempt,
        prompt,
        rawOutput: raw,
        validationErrors: errors,
        startedAt,
        duration: elapsedSince(started),
        usage,
      });
      if (plan && errors.length === 0) return { plan, record };
      this.options.log?.warn({ taskId: input.taskId, attempt, errors }, 'planner answer refused');
      messages.push(
        { role: 'assistant', content: raw },
        {
          role: 'user',
          content: `That plan is not valid:\n- ${errors.join('\n- ')}\nAnswer with the corrected plan, as JSON only.`,
        },
      );
    }
    throw noValidPlan(errors, record);
  }
}
