import { OpenAiDouble, type ChatRequest, type OpenAiDoubleOptions, type ScriptedAnswer } from './openai-double.js';

/** Options of a scripted model beyond its answers (see OpenAiDoubleOptions). */
export type ScriptedModelOptions = Omit<OpenAiDoubleOptions, 'answers'>;

/**
 * A language model whose answers the test writes: an OpenAI-compatible
 * endpoint (the real chat-completions HTTP protocol) started on loopback the
 * first time an agent needs it, so the agent's own `openai` client talks to it
 * exactly as it would to a provider.
 */
export class ScriptedModel {
  private double: OpenAiDouble | undefined;
  private starting: Promise<OpenAiDouble> | undefined;
  private readonly pending: ScriptedAnswer[];

  constructor(
    private readonly answers: ScriptedAnswer[] | ((request: ChatRequest['body']) => ScriptedAnswer),
    private readonly options: ScriptedModelOptions = {},
  ) {
    this.pending = Array.isArray(answers) ? [...answers] : [];
  }

  /** Starts the endpoint (once; later calls return the same one). */
  async start(): Promise<this> {
    this.starting ??= OpenAiDouble.start({
      ...this.options,
      answers: Array.isArray(this.answers) ? this.pending : this.answers,
    });
    this.double = await this.starting;
    return this;
  }

  private get running(): OpenAiDouble {
    if (!this.double) throw new Error('the scripted model has not been started (startAgent or start() does it)');
    return this.double;
  }

  /** The base URL the agent's OpenAI client uses (OPENAI_BASE_URL). */
  get baseURL(): string {
    return this.running.baseURL;
  }

  /** The API key the endpoint requires (OPENAI_API_KEY). */
  get apiKey(): string {
    return this.running.apiKey;
  }

  /** Every chat completion request received so far, in order (empty before the start). */
  get requests(): ChatRequest[] {
    return this.double?.requests ?? [];
  }

  /** Adds answers to the end of the script. */
  enqueue(...answers: ScriptedAnswer[]): void {
    if (this.double) this.double.enqueue(...answers);
    else this.pending.push(...answers);
  }

  /** The environment that points an agent's planner and LLM steps at this model. */
  env(): Record<string, string> {
    return { OPENAI_BASE_URL: this.baseURL, OPENAI_API_KEY: this.apiKey };
  }

  /** Stops the endpoint. */
  async close(): Promise<void> {
    const double = this.double ?? (await this.starting?.catch(() => undefined));
    await double?.close();
  }
}

/**
 * A scripted model: answers in order (a request beyond them gets HTTP 500, as
 * a failing provider would) or computed from each request.
 */
export function scriptedModel(
  answers: ScriptedAnswer[] | ((request: ChatRequest['body']) => ScriptedAnswer),
  options: ScriptedModelOptions = {},
): ScriptedModel {
  return new ScriptedModel(answers, options);
}
