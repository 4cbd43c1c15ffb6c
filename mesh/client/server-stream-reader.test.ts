import { Readable } from 'node:stream';
import type { ClientReadableStream, ServiceError } from '@grpc/grpc-js';
import { readServerStream, type OpenedStream } from './server-stream-reader.js';

/** A server stream as grpc-js gives it (object mode) that the test feeds, and what the reader did with it. */
function stream() {
  const call = new Readable({ objectMode: true, read() {} });
  const seen = { done: [] as (ServiceError | undefined)[] };
  const opened: OpenedStream = {
    call: call as unknown as ClientReadableStream<unknown>,
    done: (failure) => void seen.done.push(failure),
  };
  return { call, seen, opened };
}

const toError = (failure: ServiceError) => new Error(`failed: ${failure.details}`);

describe('readServerStream', () => {
  test('next() asked again before an answer: every caller gets its message, in order, then the end', async () => {
    const { call, opened } = stream();
    const reader = readServerStream(async () => opened, toError);
    const first = reader.next();
    // The stream is open and the first caller waits: the next two ask before any message came.
    await new Promise((r) => setImmediate(r));
    const second = reader.next();
    const third = reader.next();
    call.push('a');
    call.push('b');
    call.push(null);
    await expect(Promise.all([first, second, third])).resolves.toEqual([
      { done: false, value: 'a' },
      { done: false, value: 'b' },
      { done: true, value: undefined },
    ]);
  });

  test('left while the stream was still opening: the call is finished (cancelled) once it opens', async () => {
    const { seen, opened } = stream();
    let open!: (o: OpenedStream) => void;
    const reader = readServerStream(() => new Promise<OpenedStream>((r) => (open = r)), toError);
    const pending = reader.next();
    await reader.return!();
    open(opened);
    await expect(pending).resolves.toEqual({ done: true, value: undefined });
    // done() is what cancels the call, ends its span and drops the abort listener (client.ts).
    expect(seen.done).toHaveLength(1);
    expect(seen.done[0]).toBeUndefined();
  });

  test('a failed status comes after the messages sent before it', async () => {
    const { call, opened } = stream();
    const reader = readServerStream(async () => opened, toError);
    const first = reader.next();
    call.push('a');
    await expect(first).resolves.toEqual({ done: false, value: 'a' });
    const next = reader.next();
    call.destroy(Object.assign(new Error('boom'), { code: 14, details: 'registry down' }) as ServiceError);
    await expect(next).rejects.toThrow('failed: registry down');
  });
});
