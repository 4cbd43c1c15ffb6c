import type { IncomingMessage, ServerResponse } from 'node:http';
import { TaskEvent } from '../../../gen/agentmesh/v1/agent_service.js';
import { httpErrorOf } from './http-errors.js';

const HEARTBEAT_MS = 15_000;

/**
 * Bridges a task's SubscribeTask stream to server-sent events: one `task`
 * event per TaskEvent (proto JSON, `id` = its sequence, so a reconnecting
 * EventSource resumes with Last-Event-ID), `end` when the task is terminal,
 * `failure` when the stream breaks. The first event is awaited before the
 * answer starts, so a refusal (NOT_FOUND, PERMISSION_DENIED) is a plain HTTP error.
 */
export async function bridgeTaskEvents(
  req: IncomingMessage,
  res: ServerResponse,
  subscribe: (signal: AbortSignal) => AsyncIterable<{ event?: TaskEvent }>,
  /** Checked at every heartbeat: a stream ends when the session that opened it has (signed out, expired). */
  stillSignedIn: () => boolean = () => true,
): Promise<void> {
  const abort = new AbortController();
  const iterator = subscribe(abort.signal)[Symbol.asyncIterator]();
  let first: IteratorResult<{ event?: TaskEvent }>;
  try {
    first = await iterator.next();
  } catch (err) {
    abort.abort();
    throw err;
  }
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
  });
  req.once('close', () => abort.abort());
  const heartbeat = setInterval(() => {
    if (stillSignedIn()) return void res.write(': keep-alive\n\n');
    res.write(`event: end\ndata: ${JSON.stringify({ reason: 'the session ended' })}\n\n`);
    abort.abort();
  }, HEARTBEAT_MS).unref();
  const send = (event: string, data: unknown, id?: number) =>
    res.write(`${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  try {
    for (let next = first; !next.done; next = await iterator.next()) {
      const event = next.value.event;
      if (event) send('task', TaskEvent.toJSON(event), event.sequence);
    }
    send('end', {});
  } catch (err) {
    if (!abort.signal.aborted) {
      const e = httpErrorOf(err);
      send('failure', { code: e.code, message: e.message });
    }
  } finally {
    clearInterval(heartbeat);
    abort.abort();
    res.end();
  }
}
