import type { DiscoveryScope, Endpoint } from '../../gen/agentmesh/v1/card.js';
import { DiscoveryScope as Scope } from '../../gen/agentmesh/v1/card.js';
import {
  ChangeType,
  type DiscoveryMatch,
  type RegistryServiceService,
} from '../../gen/agentmesh/v1/registry_service.js';
import type { MeshClient } from '../client/index.js';
import { Code, isMeshError, MeshError } from '../core/index.js';
import type { Logger } from '../telemetry/index.js';
import type { MeshMetrics } from '../telemetry/index.js';

/** Codes that mean "the registry cannot answer now", as opposed to "your question is wrong". */
const UNREACHABLE = new Set([Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED, Code.CANCELLED, Code.INTERNAL, Code.UNKNOWN]);

interface Cached {
  matches: DiscoveryMatch[];
  /** The registry revision the answer reflects. */
  revision: number;
}

/** The endpoints of a match (the chosen version's live instances). */
export function endpointsOf(match: DiscoveryMatch): Endpoint[] {
  const card = match.entry?.card;
  return card?.$case === 'agent' ? card.agent.endpoints : card?.$case === 'tool' ? card.tool.endpoints : [];
}

/** Options of a DiscoveryClient. */
export interface DiscoveryClientOptions {
  /**
   * How often a quiet registry confirms the Watch is live (default 5,000 ms):
   * cached answers are served only while it was heard from within twice this.
   */
  progressIntervalMs?: number;
  /** The clock, in milliseconds (tests move it). */
  now?: () => number;
}

/**
 * The client side of discovery: answers are cached and kept fresh by a
 * Watch on the registry (any change invalidates them); while the registry is
 * unreachable, the last answers are served and the staleness is reported in
 * a metric and the log. Endpoints of a match are chosen round-robin.
 *
 * An answer is served from the cache while a live Watch covers every change
 * after the revision it reflects and none has arrived. The Watch is opened
 * from the revision of the first answer (so no change between that answer and
 * the stream opening is missed) and reopened after a loss from the last
 * revision it delivered. It counts as live only once it has delivered
 * something and while it keeps doing so: the registry sends a progress
 * response as soon as the stream is live and whenever it has been quiet for
 * the progress interval, so a stream that a proxy holds open or whose peer
 * died without a word is noticed within two intervals; then the cache stops
 * answering and the Watch is reopened. A change reaches the cache as fast as
 * the Watch delivers it (milliseconds on a live stream).
 */
export class DiscoveryClient {
  private readonly cache = new Map<string, Cached>();
  private readonly turns = new Map<string, number>();
  private readonly watching = new AbortController();
  private watchStarted = false;
  /** The revision from which the running Watch delivers every change; undefined while none runs. */
  private coveredFrom: number | undefined;
  /** The newest change the Watch delivered: answers of older revisions are stale. */
  private lastChange = 0;
  /** Bumped when the registry's history is lost: an answer asked for before then is not cached. */
  private epoch = 0;
  /** The running Watch: when it was opened, when it last delivered (undefined: not yet), and how to end it. */
  private stream: { openedAt: number; heardAt?: number; abort: AbortController } | undefined;
  private readonly progressIntervalMs: number;
  private readonly now: () => number;

  constructor(
    private readonly registry: MeshClient<typeof RegistryServiceService>,
    private readonly log: Logger,
    private readonly metrics?: MeshMetrics,
    options: DiscoveryClientOptions = {},
  ) {
    this.progressIntervalMs = options.progressIntervalMs ?? 5_000;
    this.now = options.now ?? Date.now;
  }

  /** Keeps the cache fresh by watching the registry (opened with the first answer's revision); reconnects with backoff. */
  startWatch(): void {
    this.watchStarted = true;
  }

  private watchFrom(revision: number): void {
    const progressInterval = {
      seconds: Math.floor(this.progressIntervalMs / 1000),
      nanos: (this.progressIntervalMs % 1000) * 1e6,
    };
    void (async () => {
      let backoff = 250;
      let from = revision;
      while (!this.watching.signal.aborted) {
        const stream: { openedAt: number; heardAt?: number; abort: AbortController } = {
          openedAt: this.now(),
          abort: new AbortController(),
        };
        this.stream = stream;
        try {
          this.coveredFrom = from;
          for await (const change of this.registry.watch(
            { fromRevision: from, kinds: [], progressInterval },
            { signal: AbortSignal.any([this.watching.signal, stream.abort.signal]), deadlineMs: Infinity },
          )) {
            backoff = 250;
            stream.heardAt = this.now();
            // Watching "from now" (revision 0) covers, once it says where it is, everything after that.
            if (this.coveredFrom === 0) this.coveredFrom = change.revision;
            from = Math.max(from, change.revision);
            if (change.change === ChangeType.CHANGE_TYPE_PROGRESS) continue;
            this.lastChange = Math.max(this.lastChange, change.revision);
            this.log.debug({ revision: change.revision }, 'registry changed: discovery cache invalidated');
          }
        } catch (err) {
          if (this.watching.signal.aborted) return;
          this.log.warn({ err: (err as Error).message }, 'registry watch lost; retrying');
          // A registry that lost its history (restored from an older backup) cannot replay: watch
          // from now, and forget answers whose revisions belong to the history it lost.
          if (isMeshError(err) && err.code === Code.OUT_OF_RANGE) {
            from = 0;
            this.lastChange = 0;
            this.epoch++;
            this.cache.clear();
          }
        }
        this.coveredFrom = undefined;
        this.stream = undefined;
        await new Promise((r) => setTimeout(r, backoff).unref());
        backoff = Math.min(backoff * 2, 10_000);
      }
    })();
  }

  /**
   * Whether the running Watch is known to be live: it delivered something within two progress
   * intervals. One that delivered and then fell silent for longer is ended, so that it reopens.
   * One that never delivered is left open but not trusted: a registry from before progress
   * responses sends nothing on a quiet mesh, and reopening it every two intervals would only
   * churn (its changes still invalidate the cache once they come; answers are asked meanwhile).
   */
  private watchLive(): boolean {
    const stream = this.stream;
    if (stream?.heardAt === undefined) return false;
    if (this.now() - stream.heardAt > 2 * this.progressIntervalMs) {
      stream.abort.abort(new MeshError(Code.UNAVAILABLE, 'registry watch silent for two progress intervals'));
      return false;
    }
    return true;
  }

  /** Whether a cached answer still reflects the registry: a live Watch covers its revision and brought no newer change. */
  private fresh(cached: Cached): boolean {
    return (
      this.watchLive() &&
      this.coveredFrom !== undefined &&
      this.coveredFrom > 0 &&
      cached.revision >= this.coveredFrom &&
      cached.revision >= this.lastChange
    );
  }

  /** The best matches for a scope: from the cache while it is fresh, else from the registry, else (registry down) the cache. */
  async resolve(scope: DiscoveryScope, maxResults = 1): Promise<DiscoveryMatch[]> {
    const key = JSON.stringify([Scope.toJSON(scope), maxResults]);
    const cached = this.cache.get(key);
    if (cached && this.fresh(cached)) return cached.matches;
    try {
      const epoch = this.epoch;
      const { matches, revision } = await this.registry.discover({ scope, maxResults });
      // An answer of the registry before it lost its history would count as fresh under the new numbering.
      if (epoch === this.epoch) this.cache.set(key, { matches, revision });
      if (this.watchStarted && this.coveredFrom === undefined && !this.watching.signal.aborted) {
        this.watchStarted = false;
        this.watchFrom(revision);
      }
      this.metrics?.discoveryStale.set(0);
      return matches;
    } catch (err) {
      if (!cached || !isMeshError(err) || !UNREACHABLE.has(err.code)) throw err;
      this.metrics?.discoveryStale.set(1);
      this.log.warn({ err: err.message }, 'registry unreachable: answering discovery from the cache');
      return cached.matches;
    }
  }

  /** The address to call for the best match of a scope, rotating over its instances. */
  async pick(scope: DiscoveryScope): Promise<{ match: DiscoveryMatch; address: string }> {
    const [match] = await this.resolve(scope, 1);
    const endpoints = match ? endpointsOf(match) : [];
    if (!match || endpoints.length === 0) throw new MeshError(Code.NOT_FOUND, 'no collaborator matches the scope');
    const card = match.entry!.card!;
    const name = card.$case === 'agent' ? card.agent.name : card.tool.name;
    const turn = this.turns.get(name) ?? 0;
    this.turns.set(name, turn + 1);
    return { match, address: endpoints[turn % endpoints.length]!.address };
  }

  close(): void {
    this.watching.abort();
  }
}
