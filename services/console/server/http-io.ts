import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from './http-errors.js';

const MAX_BODY = 64 * 1024;

/** Sends a JSON answer that no cache keeps. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Reads a JSON object body: application/json only, at most 64 KiB, else a 4xx naming the problem. */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  if (!String(req.headers['content-type'] ?? '').startsWith('application/json'))
    throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the request body as application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, 'TOO_LARGE', 'the request body is larger than 64 KiB');
    chunks.push(chunk);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'INVALID_JSON', 'the request body is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new HttpError(400, 'INVALID_ARGUMENT', 'the request body must be a JSON object');
  return value as Record<string, unknown>;
}

/** A string field of a request body, or a 400 naming it. */
export function stringField(
  body: Record<string, unknown>,
  name: string,
  options: { optional?: boolean; pattern?: RegExp; max?: number } = {},
): string {
  const value = body[name];
  if (value === undefined && options.optional) return '';
  if (typeof value !== 'string') throw new HttpError(400, 'INVALID_ARGUMENT', `${name}: must be a string`);
  if (value.length > (options.max ?? 1_000))
    throw new HttpError(400, 'INVALID_ARGUMENT', `${name}: at most ${options.max ?? 1_000} characters`);
  if (options.pattern && !options.pattern.test(value))
    throw new HttpError(400, 'INVALID_ARGUMENT', `${name}: not a valid value`);
  return value;
}
