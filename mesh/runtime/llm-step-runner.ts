import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { Code, MeshError } from '../core/index.js';
import type { ChatModel } from './chat-model.js';
import type { StepCall, StepResult } from './executor.js';
import { compileSchema } from './schema-validator.js';

const DEFAULT_SYSTEM = 'You answer one narrowly scoped question inside an automated workflow. Be brief and factual.';

/**
 * Runs LLM steps: a small, specialised prompt to the model a named alias
 * stands for. With an output schema the answer must be JSON matching it;
 * otherwise the output is { text }.
 */
export class LlmStepRunner {
  constructor(private readonly models: Map<string, ChatModel>) {}

  async run(call: StepCall): Promise<StepResult> {
    const target = call.step.target;
    if (target?.$case !== 'llm') throw new MeshError(Code.INTERNAL, `step ${call.step.id} is not an LLM step`);
    const { modelAlias, systemPrompt, outputSchema } = target.llm;
    const model = this.models.get(modelAlias);
    if (!model)
      throw new MeshError(
        Code.FAILED_PRECONDITION,
        `step ${call.step.id}: model alias "${modelAlias}" is not configured (AGENTMESH_MODELS)`,
      );
    const input = Object.keys(call.args).length > 0 ? `\n\nInput (JSON): ${JSON.stringify(call.args)}` : '';
    const schemaHint = outputSchema
      ? `\n\nAnswer with JSON only, matching this JSON Schema: ${JSON.stringify(outputSchema)}`
      : '';
    const messages: ChatCompletionMessageParam[] = [
      { role: 'system', content: (systemPrompt || DEFAULT_SYSTEM) + schemaHint },
      { role: 'user', content: `${call.prompt ?? target.llm.prompt}${input}` },
    ];
    const { completion, usage } = await model.complete(messages, {
      jsonSchema: outputSchema ? { name: 'step_output', schema: outputSchema } : undefined,
      signal: call.signal,
    });
    const raw = completion.choices[0]?.message.content ?? '';
    if (!outputSchema) return { output: { text: raw }, model: model.model, usage };
    let output: unknown;
    try {
      output = JSON.parse(raw.trim().replace(/^```(?:json)?\s*([\s\S]*?)\s*```$/, '$1'));
    } catch (err) {
      throw new MeshError(
        Code.FAILED_PRECONDITION,
        `the answer of ${model.model} is not JSON: ${(err as Error).message}`,
      );
    }
    compileSchema(outputSchema).assert(output, 'answer', Code.FAILED_PRECONDITION);
    return { output, model: model.model, usage };
  }
}
