import { Writable } from 'node:stream';
import type { ServerWritableStream } from '@grpc/grpc-js';
import { Code, MeshError } from '../core/index.js';
import { STREAM_BUFFER_BYTES, STREAM_BUFFER_MESSAGES, StreamWriter } from './stream-writer.js';

/** A stream as grpc-js makes it (object mode, writes completed one by one) whose transport the test drives. */
function transport() {
  const sent: Buffer[] = [];
  const pending: (() => void)[] = [];
  const call = new Writable({
    objectMode: true,
    write(chunk: Buffer, _encoding, callback) {
      pending.push(() => {
        sent.push(chunk);
        callback();
      });
    },
  });
  /** Lets the transport take the oldest message the stream holds. */
  const take = () => pending.shift()!();
  return { call: call as unknown as ServerWritableStream<unknown, unknown>, sent, take, held: () => pending.length };
}

const asBytes = (message: unknown) => Buffer.from(String(message));

describe('StreamWriter', () => {
  test('a stream of 100 small events is queued without pausing the handler once', () => {
    const { call, sent, take } = transport();
    const writer = new StreamWriter(call, asBytes, new AbortController().signal);
    const pauses = Array.from({ length: 100 }, (_, i) => writer.write(`event ${i + 1}`)).filter(Boolean);
    expect(pauses).toHaveLength(0);
    for (let i = 0; i < 100; i++) take();
    expect(sent.map(String)).toEqual(Array.from({ length: 100 }, (_, i) => `event ${i + 1}`));
  });

  test('the handler pauses once the stream holds 64 KiB, and goes on when the transport has taken half', async () => {
    const { call, take } = transport();
    const writer = new StreamWriter(call, (size) => Buffer.alloc(size as number), new AbortController().signal);
    const quarter = STREAM_BUFFER_BYTES / 4;
    expect([writer.write(quarter), writer.write(quarter), writer.write(quarter)]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    const paused = writer.write(quarter);
    expect(paused).toBeInstanceOf(Promise);
    let resumed = false;
    void paused!.then(() => (resumed = true));
    await Promise.resolve();
    expect(resumed).toBe(false);
    take();
    await Promise.resolve();
    // 48 KiB still held: resuming now would pause it again at its next message.
    expect(resumed).toBe(false);
    take();
    await paused;
    expect(writer.write(1)).toBeUndefined();
  });

  test('a stream of empty messages pauses the handler too, after STREAM_BUFFER_MESSAGES', async () => {
    const { call, take } = transport();
    const writer = new StreamWriter(call, () => Buffer.alloc(0), new AbortController().signal);
    const results = Array.from({ length: STREAM_BUFFER_MESSAGES }, () => writer.write({}));
    expect(results.slice(0, -1).every((r) => r === undefined)).toBe(true);
    const paused = results.at(-1);
    expect(paused).toBeInstanceOf(Promise);
    for (let i = 0; i < STREAM_BUFFER_MESSAGES / 2; i++) take();
    await expect(paused).resolves.toBeUndefined();
  });

  test('a stream that never empties keeps no record of the messages already sent', async () => {
    const { call, take } = transport();
    const writer = new StreamWriter(call, (size) => Buffer.alloc(size as number), new AbortController().signal);
    // Always a few messages held: the transport takes one as the handler writes the next.
    for (let i = 0; i < 8; i++) expect(writer.write(10)).toBeUndefined();
    for (let i = 0; i < 20_000; i++) {
      take();
      expect(writer.write(10)).toBeUndefined();
    }
    const { sizes } = writer as unknown as { sizes: number[] };
    expect(sizes.length).toBeLessThan(2_048);
  });

  test('one message larger than the limit pauses the handler until it is sent', async () => {
    const { call, take, held } = transport();
    const writer = new StreamWriter(call, (size) => Buffer.alloc(size as number), new AbortController().signal);
    const paused = writer.write(STREAM_BUFFER_BYTES * 4);
    expect(paused).toBeInstanceOf(Promise);
    expect(held()).toBe(1);
    take();
    await expect(paused).resolves.toBeUndefined();
  });

  test('a paused handler is released with the reason when the call is aborted', async () => {
    const { call } = transport();
    const controller = new AbortController();
    const writer = new StreamWriter(call, (size) => Buffer.alloc(size as number), controller.signal);
    const paused = writer.write(STREAM_BUFFER_BYTES);
    const reason = new MeshError(Code.CANCELLED, 'call cancelled by the client');
    controller.abort(reason);
    await expect(paused).rejects.toBe(reason);
  });
});
