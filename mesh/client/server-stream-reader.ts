import type { ClientReadableStream, ServiceError } from '@grpc/grpc-js';

/** A server stream once started, and what to do when it is over (ended, failed or left early). */
export interface OpenedStream {
  call: ClientReadableStream<unknown>;
  /** Called once: `failure` is the call's error status, undefined when it ended OK or the reader left early. */
  done(failure?: ServiceError): void;
}

/**
 * A server stream's messages as an async iterator, read from grpc-js's stream with read() as
 * Node's own iterator does (its buffer of 16 messages is the backpressure), but without its
 * async generator, nor one of ours around it: each of those cost a promise and turns of the
 * microtask queue per message (about 6 µs of the client's CPU per message, measured, more than
 * decoding it). Here a message already read costs one resolved promise.
 *
 * The stream is opened by the first next(). A failed status is thrown, as `toError` maps it,
 * after the messages that came before it; leaving early (break, return()) cancels the call.
 */
export function readServerStream(
  open: () => Promise<OpenedStream>,
  toError: (failure: ServiceError) => Error,
): AsyncIterableIterator<unknown> {
  return new ServerStreamReader(open, toError);
}

type Waiter = { resolve: (result: IteratorResult<unknown>) => void; reject: (err: unknown) => void };
const END: IteratorResult<unknown> = { done: true, value: undefined };

class ServerStreamReader implements AsyncIterableIterator<unknown> {
  private opened: OpenedStream | undefined;
  private opening: Promise<void> | undefined;
  /** next() calls waiting for a message, oldest first (a caller may ask again before an answer). */
  private readonly waiters: Waiter[] = [];
  private ended = false;
  private failure: Error | undefined;
  /** The reader has given its end or its failure, or was left: next() has nothing more. */
  private closed = false;
  private released = false;

  constructor(
    private readonly open: () => Promise<OpenedStream>,
    private readonly toError: (failure: ServiceError) => Error,
  ) {}

  [Symbol.asyncIterator](): AsyncIterableIterator<unknown> {
    return this;
  }

  next(): Promise<IteratorResult<unknown>> {
    if (this.closed) return Promise.resolve(END);
    if (!this.opened) return (this.opening ??= this.start()).then(() => this.next());
    // Earlier callers are served first.
    if (this.waiters.length > 0) return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
    const message: unknown = this.opened.call.read();
    if (message !== null) return Promise.resolve({ done: false, value: message });
    if (this.ended || this.failure) return this.settle();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  async return(): Promise<IteratorResult<unknown>> {
    // Left early (break): the server's handler is cancelled rather than left to stream to nobody.
    this.closed = true;
    this.release();
    for (const waiter of this.waiters.splice(0)) waiter.resolve(END);
    return END;
  }

  private async start(): Promise<void> {
    try {
      this.opened = await this.open();
    } catch (err) {
      this.closed = true;
      throw err;
    }
    const { call } = this.opened;
    // Left (return()) while it was opening: the call is cancelled and its span ended now.
    if (this.closed) return this.release();
    call.on('readable', this.wake);
    call.on('end', () => {
      this.ended = true;
      this.wake();
    });
    call.on('error', (err: ServiceError) => {
      // A status has a code; anything else (a message that did not decode...) is thrown as it is.
      const status = err.code === undefined ? undefined : err;
      this.failure = status ? this.toError(status) : err;
      this.release(status);
      this.wake();
    });
  }

  // Messages read before a failure are still given, in order, before it.
  private readonly wake = (): void => {
    while (this.waiters.length > 0) {
      const message: unknown = this.opened!.call.read();
      if (message !== null) this.waiters.shift()!.resolve({ done: false, value: message });
      else if (this.ended || this.failure) {
        // The first waiter gets the end or the failure; any after it, the end.
        const [first, ...rest] = this.waiters.splice(0);
        this.settle().then(first!.resolve, first!.reject);
        for (const waiter of rest) waiter.resolve(END);
      } else return;
    }
  };

  /** What next() gives once no message is left: the failure, or the end. */
  private settle(): Promise<IteratorResult<unknown>> {
    this.closed = true;
    this.release();
    return this.failure ? Promise.reject(this.failure) : Promise.resolve(END);
  }

  private release(failure?: ServiceError): void {
    // Not yet open: start() releases it once it is.
    if (this.released || !this.opened) return;
    this.released = true;
    this.opened.done(failure);
  }
}
