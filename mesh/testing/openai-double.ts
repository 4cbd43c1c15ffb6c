import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** The parts of a chat completion request the double looks at; `body` is the whole request. */
export interface ChatRequest {
  body: {
    model: string;
    messages: { role: string; content: string }[];
    response_format?: { type: string; json_schema?: { name: string; schema?: unknown; strict?: boolean } };
    [key: string]: unknown;
  };
  /** The status the double answered with. */
  status: number;
}

/** A scripted answer: the assistant's content, optionally with usage or finish reason. */
export type ScriptedAnswer =
  string | { content: string; finishReason?: string; usage?: { prompt_tokens: number; completion_tokens: number } };

/** Options for OpenAiDouble.start. */
export interface OpenAiDoubleOptions {
  /** The bearer key required (default: a random one, readable as `apiKey`). */
  apiKey?: string;
  /** Answer 400 to requests whose response_format is json_schema, as endpoints without structured output do. */
  rejectJsonSchema?: boolean;
  /** Answers in order, or computed from the request; a request beyond the queue gets a 500. */
  answers?: ScriptedAnswer[] | ((request: ChatRequest['body']) => ScriptedAnswer);
  /** Wait this long before answering, like a slow model (lets tests cancel a request in flight). */
  delayMs?: number;
}

type Reply = { status: number; body: unknown };
const error = (
  status: number,
  message: string,
  type: string,
  code: string | null,
  param: string | null = null,
): Reply => ({
  status,
  body: { error: { message, type, param, code } },
});
// Deterministic stand-in for a tokenizer: about four characters per token.
const tokens = (text: string) => Math.ceil(text.length / 4);

/**
 * An in-process OpenAI-compatible endpoint for tests: POST /v1/chat/completions
 * with the real response and error shapes, bearer-key checking, scripted
 * answers, and a log of the requests received.
 */
export class OpenAiDouble {
  /** Every chat completion request received, in order, including refused ones. */
  readonly requests: ChatRequest[] = [];
  readonly apiKey: string;
  private readonly queue: ScriptedAnswer[];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly server: http.Server;

  private constructor(private readonly options: OpenAiDoubleOptions) {
    this.apiKey = options.apiKey ?? `sk-test-${randomUUID()}`;
    this.queue = Array.isArray(options.answers) ? [...options.answers] : [];
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const reply = this.handle(req, Buffer.concat(chunks).toString('utf8'));
        if (options.delayMs) await this.delay(options.delayMs);
        if (res.destroyed) return;
        res.writeHead(reply.status, { 'content-type': 'application/json', 'x-request-id': `req_${randomUUID()}` });
        res.end(JSON.stringify(reply.body));
      });
    });
  }

  /** Starts the double on 127.0.0.1 and a free port. */
  static async start(options: OpenAiDoubleOptions = {}): Promise<OpenAiDouble> {
    const double = new OpenAiDouble(options);
    await new Promise<void>((resolve) => double.server.listen(0, '127.0.0.1', resolve));
    return double;
  }

  /** The base URL to give the OpenAI client (ends in /v1). */
  get baseURL(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  /** Appends answers to the queue. */
  enqueue(...answers: ScriptedAnswer[]): void {
    this.queue.push(...answers);
  }

  /** Stops listening and closes open connections. */
  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  private handle(req: http.IncomingMessage, text: string): Reply {
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      return error(404, `Unknown request URL: ${req.method} ${req.url}`, 'invalid_request_error', 'unknown_url');
    }
    let body: ChatRequest['body'];
    try {
      body = JSON.parse(text) as ChatRequest['body'];
    } catch {
      return error(400, 'We could not parse the JSON body of your request.', 'invalid_request_error', null);
    }
    const entry: ChatRequest = { body, status: 200 };
    this.requests.push(entry);
    const reply = this.answer(req, body);
    entry.status = reply.status;
    return reply;
  }

  private answer(req: http.IncomingMessage, body: ChatRequest['body']): Reply {
    if (req.headers.authorization !== `Bearer ${this.apiKey}`) {
      return error(401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
    }
    if (this.options.rejectJsonSchema && body.response_format?.type === 'json_schema') {
      return error(
        400,
        "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.",
        'invalid_request_error',
        null,
        'response_format',
      );
    }
    const scripted = typeof this.options.answers === 'function' ? this.options.answers(body) : this.queue.shift();
    if (scripted === undefined) return error(500, 'openai double: no scripted answer left', 'server_error', null);
    const answer = typeof scripted === 'string' ? { content: scripted } : scripted;
    const promptTokens = answer.usage?.prompt_tokens ?? tokens(JSON.stringify(body.messages));
    const completionTokens = answer.usage?.completion_tokens ?? tokens(answer.content);
    return {
      status: 200,
      body: {
        id: `chatcmpl-${randomUUID()}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: body.model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: answer.content, refusal: null },
            logprobs: null,
            finish_reason: answer.finishReason ?? 'stop',
          },
        ],
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: completionTokens,
          total_tokens: promptTokens + completionTokens,
        },
      },
    };
  }
}
