import type { ServerWritableStream, ServiceDefinition } from '@grpc/grpc-js';

/**
 * Bytes of serialised messages a server stream may hold before its handler is paused: the
 * default high-water mark of Node's byte streams, and HTTP/2's initial stream window.
 */
export const STREAM_BUFFER_BYTES = 64 * 1024;

/**
 * Messages a server stream may hold before its handler is paused, whatever their size: a
 * message costs memory beyond its bytes (its buffer, grpc-js's write request), so a stream of
 * empty or tiny messages (a Watch's progress responses) to a client that stopped reading is
 * bounded too.
 */
export const STREAM_BUFFER_MESSAGES = 256;

/**
 * Writes a server stream's messages with backpressure counted in bytes. The kernel serialises
 * each message itself (grpc-js is given the bytes: see serializedByKernel), so it knows what the
 * stream holds. grpc-js's own object-mode buffer asks to stop after 16 messages whatever their
 * size, which paused a handler six times in a stream of 100 small events and, at its end,
 * delayed everything that follows the handler (the audit record's durable write) until the
 * last messages were queued, instead of overlapping it with their sending. Here a handler
 * runs on until the stream holds STREAM_BUFFER_BYTES (a few large messages pause it sooner than
 * 16 did) or STREAM_BUFFER_MESSAGES messages, and resumes once the transport has taken half of
 * them (not at the first message taken: a handler would then pause again at every message).
 */
export class StreamWriter {
  private buffered = 0;
  // Sizes of the messages the stream holds, oldest first: grpc-js completes writes in order.
  private readonly sizes: number[] = [];
  private head = 0;
  private resume: (() => void) | undefined;

  constructor(
    private readonly call: ServerWritableStream<unknown, unknown>,
    private readonly serialize: (message: unknown) => Buffer,
    private readonly signal: AbortSignal,
    private readonly limit = STREAM_BUFFER_BYTES,
    private readonly maxMessages = STREAM_BUFFER_MESSAGES,
  ) {}

  /** Messages the stream holds (written, not yet taken by the transport). */
  private get held(): number {
    return this.sizes.length - this.head;
  }

  private full(): boolean {
    return this.buffered >= this.limit || this.held >= this.maxMessages;
  }

  /**
   * Queues one message. Returns undefined when the handler may go on at once, or a promise
   * that resolves once the stream has room again and rejects with the abort reason if the call
   * ends first (an awaited promise per message would cost a turn of the microtask queue each).
   */
  write(message: unknown): Promise<void> | undefined {
    const bytes = this.serialize(message);
    this.buffered += bytes.length;
    this.sizes.push(bytes.length);
    this.call.write(bytes, this.written);
    if (!this.full()) return undefined;
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        this.resume = undefined;
        this.signal.removeEventListener('abort', done);
        if (this.signal.aborted) reject(this.signal.reason);
        else resolve();
      };
      this.resume = done;
      this.signal.addEventListener('abort', done, { once: true });
    });
  }

  private readonly written = (): void => {
    this.buffered -= this.sizes[this.head++]!;
    // Taken sizes are dropped in bulk: on a stream that never empties, the list would otherwise
    // keep one entry per message for the stream's life.
    if (this.head === this.sizes.length) this.sizes.length = this.head = 0;
    else if (this.head >= 1024) {
      this.sizes.splice(0, this.head);
      this.head = 0;
    }
    if (this.resume && this.buffered <= this.limit / 2 && this.held <= this.maxMessages / 2) this.resume();
  };
}

const bytesAsTheyAre = (bytes: Buffer): Buffer => bytes;

/**
 * The definition to give grpc-js: its server-streaming methods take the bytes StreamWriter
 * serialised (their responseSerialize passes them on as they are); everything else unchanged.
 */
export function serializedByKernel<D extends ServiceDefinition>(definition: D): D {
  const methods = Object.entries(definition).map(([key, def]) => [
    key,
    def.responseStream ? { ...def, responseSerialize: bytesAsTheyAre } : def,
  ]);
  return Object.fromEntries(methods) as D;
}
