import { createHash, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';

/**
 * Called for each notice on a channel. `undefined` means notices may have been
 * missed (the connection that carries them was lost and is back): re-read
 * everything followed.
 */
export type NoticeListener = (payload: string | undefined) => void;

/** Carries notices between processes (PostgreSQL's LISTEN/NOTIFY); absent on SQLite, where one process owns the file. */
export interface NoticeTransport {
  /** Starts listening on a wire channel; resolves once notices sent after it will arrive. */
  listen(wire: string): Promise<void>;
  /** Sets where notices from other processes go, and what to do when some may have been lost. */
  attach(onNotice: (wire: string, raw: string) => void, onGap: () => void): void;
  close(): Promise<void>;
}

/**
 * Change notices of one store: a writer names a channel and a payload inside
 * its transaction; once it commits, every listener of that channel hears it —
 * in this process at once, in other processes through the transport. A
 * notice carries no data, only what to re-read: readers always read the
 * store, so a notice lost or doubled costs a read, never correctness.
 */
export class Notices {
  /** Tags this process's notices, so it does not hear its own twice. */
  readonly origin = randomUUID().slice(0, 8);
  private readonly local = new EventEmitter();
  private readonly channels = new Map<string, string>();

  constructor(
    /** Scopes wire channel names: services sharing a database do not hear each other. */
    private readonly scope: string,
    readonly transport?: NoticeTransport,
  ) {
    this.local.setMaxListeners(0);
    transport?.attach(
      (wire, raw) => this.fromTransport(wire, raw),
      () => {
        for (const channel of this.channels.keys()) this.local.emit(channel, undefined);
      },
    );
  }

  /**
   * The channel's name on the wire: a PostgreSQL identifier (at most 63 bytes,
   * so hashed) unique to the scope.
   */
  wire(channel: string): string {
    return `am_${createHash('sha256').update(`${this.scope}\0${channel}`).digest('hex').slice(0, 32)}`;
  }

  /** Listens on a channel; resolves once notices committed from now on will be heard. Returns the way to stop. */
  async listen(channel: string, listener: NoticeListener): Promise<() => void> {
    if (!this.channels.has(channel)) this.channels.set(channel, this.wire(channel));
    this.local.on(channel, listener);
    try {
      await this.transport?.listen(this.wire(channel));
    } catch (err) {
      this.local.off(channel, listener);
      throw err;
    }
    return () => this.local.off(channel, listener);
  }

  /** Delivers a committed notice to this process's listeners. */
  deliver(channel: string, payload: string): void {
    this.local.emit(channel, payload);
  }

  /** The text sent on the wire for a payload. */
  encode(payload: string): string {
    return `${this.origin}:${payload}`;
  }

  private fromTransport(wire: string, raw: string): void {
    const colon = raw.indexOf(':');
    if (colon < 0 || raw.slice(0, colon) === this.origin) return;
    for (const [channel, w] of this.channels) if (w === wire) this.local.emit(channel, raw.slice(colon + 1));
  }

  /** Stops the transport. */
  async close(): Promise<void> {
    this.local.removeAllListeners();
    await this.transport?.close();
  }
}
