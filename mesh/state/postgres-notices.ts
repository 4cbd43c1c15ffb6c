import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Code, MeshError } from '../core/index.js';
import type { Logger } from '../telemetry/index.js';
import type { StateConfig } from './config.js';
import type { NoticeTransport } from './notifications.js';

/**
 * LISTEN/NOTIFY over one dedicated connection (a pooled one would be handed
 * to other queries). NOTIFY is sent inside the writing transaction, so it
 * arrives only once the change is committed and readable. When the connection
 * is lost it reconnects with backoff, listens again, and reports a gap: the
 * notices sent meanwhile are gone, so followers re-read.
 */
export class PostgresNotices implements NoticeTransport {
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  private readonly wires = new Set<string>();
  private onNotice: (wire: string, raw: string) => void = () => undefined;
  private onGap: () => void = () => undefined;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly config: Pick<StateConfig, 'AGENTMESH_DB_CONNECT_TIMEOUT_MS' | 'AGENTMESH_DB_RECONNECT_MS'>,
    private readonly name: string,
    private readonly log?: Logger,
  ) {}

  attach(onNotice: (wire: string, raw: string) => void, onGap: () => void): void {
    this.onNotice = onNotice;
    this.onGap = onGap;
  }

  async listen(wire: string): Promise<void> {
    if (this.wires.has(wire) && this.client) return;
    this.wires.add(wire);
    const client = await this.connected();
    // A channel name is an identifier: quoted, it is taken as is (ours are [a-z0-9_]).
    await client.query(`LISTEN "${wire}"`);
  }

  private connected(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= this.connect(Date.now() + this.config.AGENTMESH_DB_RECONNECT_MS).finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(until: number): Promise<pg.Client> {
    for (let delay = 50; ; delay = Math.min(delay * 2, 1_000)) {
      if (this.closed) throw new MeshError(Code.UNAVAILABLE, 'state store closed');
      const client = new pg.Client({
        connectionString: this.url,
        connectionTimeoutMillis: this.config.AGENTMESH_DB_CONNECT_TIMEOUT_MS,
        // A listener on a dead peer hears nothing and cannot tell: probe the idle socket early (the OS default is 2 h).
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
        application_name: `${this.name} notices`,
      });
      client.on('error', () => this.lost(client));
      client.on('end', () => this.lost(client));
      try {
        await client.connect();
        for (const wire of this.wires) await client.query(`LISTEN "${wire}"`);
        client.on('notification', (n) => {
          if (n.payload !== undefined) this.onNotice(n.channel, n.payload);
        });
        // Closed while connecting: nobody would end this connection.
        if (this.closed) throw new MeshError(Code.UNAVAILABLE, 'state store closed');
        this.client = client;
        return client;
      } catch (err) {
        client.removeAllListeners('end');
        await client.end().catch(() => undefined);
        if (this.closed || Date.now() + delay > until)
          throw new MeshError(Code.UNAVAILABLE, 'state store notices unavailable', { cause: err });
        await sleep(delay);
      }
    }
  }

  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    if (this.closed) return;
    this.log?.warn('state store notice connection lost; reconnecting');
    void this.reconnect();
  }

  // Keeps trying for as long as it takes: followers fall back on their own re-reads meanwhile.
  private async reconnect(): Promise<void> {
    for (;;) {
      try {
        await this.connected();
        this.log?.info('state store notices listening again');
        this.onGap();
        return;
      } catch (err) {
        if (this.closed) return;
        this.log?.warn({ err: (err as Error).message }, 'state store notices still unavailable; retrying');
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}
