import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { createRequire } from 'node:module';
import type OpenAI from 'openai';
import type { ChatCompletion, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { TokenUsage } from '../../gen/agentmesh/v1/explain.js';
import { Code, MeshError } from '../core/index.js';
import type { Logger } from '../telemetry/index.js';
import type { MeshMetrics } from '../telemetry/index.js';
import { meshTracer } from '../telemetry/index.js';
import { throwIfAborted } from './planner.js';

/** What a chat call asks for beyond the messages. */
export interface ChatRequest {
  /** Ask for JSON matching this schema (structured output), falling back to any JSON object. */
  jsonSchema?: { name: string; schema: Record<string, unknown> };
  /** Ask for a JSON object without a schema. */
  json?: boolean;
  signal?: AbortSignal;
}

/** A chat answer with what it cost. */
export interface ChatAnswer {
  completion: ChatCompletion;
  usage: TokenUsage;
}

/** An endpoint failure as a MeshError; the caller gets the status, the log and `cause` get the details. */
function endpointFailure(err: unknown, signal: AbortSignal | undefined): MeshError {
  throwIfAborted(signal);
  const status = (err as { status?: unknown }).status;
  if (typeof status !== 'number') return new MeshError(Code.UNAVAILABLE, 'LLM endpoint unreachable', { cause: err });
  if (status === 429) return new MeshError(Code.RESOURCE_EXHAUSTED, 'LLM endpoint rate limit (429)', { cause: err });
  if (status >= 500) return new MeshError(Code.UNAVAILABLE, `LLM endpoint failed (${status})`, { cause: err });
  return new MeshError(Code.FAILED_PRECONDITION, `LLM endpoint refused the request (${status})`, { cause: err });
}

/**
 * One model on one OpenAI-compatible endpoint, as the planner and LLM steps
 * use it: every call is a GenAI client span (OpenTelemetry gen_ai.*
 * attributes for model and token usage) and counts its tokens by model.
 */
export class ChatModel {
  // Learned once per endpoint: after a 400 to json_schema, ask for json_object only.
  private jsonSchemaRefused = false;

  constructor(
    readonly client: OpenAI,
    readonly model: string,
    private readonly observe: { metrics?: MeshMetrics; log?: Logger } = {},
  ) {}

  /** Sends the messages; UNAVAILABLE / RESOURCE_EXHAUSTED / FAILED_PRECONDITION when the endpoint fails. */
  async complete(messages: ChatCompletionMessageParam[], request: ChatRequest = {}): Promise<ChatAnswer> {
    return meshTracer().startActiveSpan(
      `chat ${this.model}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'openai',
          'gen_ai.system': 'openai',
          'gen_ai.request.model': this.model,
        },
      },
      async (span) => {
        try {
          const completion = await this.ask(messages, request);
          const usage = {
            promptTokens: completion.usage?.prompt_tokens ?? 0,
            completionTokens: completion.usage?.completion_tokens ?? 0,
          };
          span.setAttributes({
            'gen_ai.response.model': completion.model ?? this.model,
            'gen_ai.usage.input_tokens': usage.promptTokens,
            'gen_ai.usage.output_tokens': usage.completionTokens,
            'gen_ai.response.finish_reasons': completion.choices.map((c) => c.finish_reason ?? 'unknown'),
          });
          this.observe.metrics?.llmTokens.inc({ model: this.model, kind: 'prompt' }, usage.promptTokens);
          this.observe.metrics?.llmTokens.inc({ model: this.model, kind: 'completion' }, usage.completionTokens);
          return { completion, usage };
        } catch (err) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
          throw err;
        } finally {
          span.end();
        }
      },
    );
  }

  private async ask(messages: ChatCompletionMessageParam[], request: ChatRequest): Promise<ChatCompletion> {
    const { signal } = request;
    const send = (response_format?: OpenAI.ChatCompletionCreateParams['response_format']) =>
      this.client.chat.completions.create(
        { model: this.model, messages, ...(response_format ? { response_format } : {}) },
        { signal },
      );
    try {
      if (request.jsonSchema && !this.jsonSchemaRefused) {
        try {
          return await send({ type: 'json_schema', json_schema: { ...request.jsonSchema, strict: false } });
        } catch (err) {
          if ((err as { status?: unknown }).status !== 400) throw err;
          this.jsonSchemaRefused = true;
          this.observe.log?.warn(
            { err: (err as Error).message, model: this.model },
            'LLM endpoint refused json_schema output; using json_object',
          );
        }
      }
      return await send(request.jsonSchema || request.json ? { type: 'json_object' } : undefined);
    } catch (err) {
      throw endpointFailure(err, signal);
    }
  }
}

/** Where models are reached: OPENAI_BASE_URL / OPENAI_API_KEY unless an alias names its own base URL. */
export interface EndpointSettings {
  apiKey?: string;
  baseURL?: string;
}

/**
 * Parses model aliases, "alias=model[@baseURL],...", e.g.
 * "summarize=gpt-4o-mini,extract=llama3.1@http://127.0.0.1:11434/v1".
 * Several models side by side let one plan use a specialised model for one step.
 */
export function parseModelAliases(spec: string | undefined): Map<string, { model: string; baseURL?: string }> {
  const aliases = new Map<string, { model: string; baseURL?: string }>();
  for (const entry of (spec ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const match = /^([a-z0-9][a-z0-9_-]*)=([^@\s]+)(?:@(\S+))?$/i.exec(entry);
    if (!match)
      throw new MeshError(Code.INVALID_ARGUMENT, `model alias "${entry}": expected alias=model or alias=model@baseURL`);
    if (aliases.has(match[1]!))
      throw new MeshError(Code.INVALID_ARGUMENT, `model alias "${match[1]}" is defined twice`);
    aliases.set(match[1]!, { model: match[2]!, ...(match[3] ? { baseURL: match[3] } : {}) });
  }
  return aliases;
}

/** An OpenAI client for an endpoint; retries are the executor's business, not the SDK's. */
export function openAiClient(endpoint: EndpointSettings): OpenAI {
  // Loaded only by agents that plan or run steps with a model: the SDK costs ~90 ms at every start.
  const { OpenAI: Client } = createRequire(import.meta.url)('openai') as typeof import('openai');
  return new Client({ apiKey: endpoint.apiKey ?? 'unset', baseURL: endpoint.baseURL, maxRetries: 0, timeout: 120_000 });
}
