import type { DiscoveryScope, Endpoint } from '../../gen/agentmesh/v1/card.js';
import { DiscoveryScope as Scope } from '../../gen/agentmesh/v1/card.js';
import type { DiscoveryMatch, RegistryServiceService } from '../../gen/agentmesh/v1/registry_service.js';
import type { MeshClient } from '../client/index.js';
import { Code, isMeshError, MeshError } from '../core/index.js';
import type { Logger } from '../telemetry/index.js';
import type { MeshMetrics } from '../telemetry/index.js';

/** Codes that mean "the registry cannot answer now", as opposed to "your question is wrong". */
const UNREACHABLE = new Set([Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED, Code.CANCELLED, Code.INTERNAL, Code.UNKNOWN]);

interface Cached {
  matches: DiscoveryMatch[];
  fresh: boolean;
}

/** The endpoints of a match (the chosen version's live instances). */
export function endpointsOf(match: DiscoveryMatch): Endpoint[] {
  const card = match.entry?.card;
  return card?.$case === 'agent' ? card.agent.endpoints : card?.$case === 'tool' ? card.tool.endpoints : [];
}

/**
 * The client side of discovery: answers are cached and kept fresh by a
 * Watch on the registry (any change invalidates them); while the registry is
 * unreachable, the last answers are served and the staleness is reported in
 * a metric and the log. Endpoints of a match are chosen round-robin.
 */
export class DiscoveryClient {
  private readonly cache = new Map<string, Cached>();
  private readonly turns = new Map<string, number>();
  private readonly watching = new AbortController();
  private watchUp = false;
  /** Bumped by every registry change: an answer fetched across a change is not cached as fresh. */
  private generation = 0;

  constructor(
    private readonly registry: MeshClient<typeof RegistryServiceService>,
    private readonly log: Logger,
    private readonly metrics?: MeshMetrics,
  ) {}

  /** Keeps the cache fresh by watching the registry; reconnects with backoff. */
  startWatch(): void {
    void (async () => {
      let backoff = 250;
      while (!this.watching.signal.aborted) {
        try {
          for await (const change of this.registry.watch(
            { fromRevision: 0, kinds: [] },
            { signal: this.watching.signal, deadlineMs: Infinity },
          )) {
            this.watchUp = true;
            backoff = 250;
            this.generation++;
            for (const c of this.cache.values()) c.fresh = false;
            this.log.debug({ revision: change.revision }, 'registry changed: discovery cache invalidated');
          }
        } catch (err) {
          if (this.watching.signal.aborted) return;
          this.log.warn({ err: (err as Error).message }, 'registry watch lost; retrying');
        }
        this.watchUp = false;
        for (const c of this.cache.values()) c.fresh = false;
        await new Promise((r) => setTimeout(r, backoff).unref());
        backoff = Math.min(backoff * 2, 10_000);
      }
    })();
  }

  /** The best matches for a scope: from the cache while it is fresh, else from the registry, else (registry down) the cache. */
  async resolve(scope: DiscoveryScope, maxResults = 1): Promise<DiscoveryMatch[]> {
    const key = JSON.stringify([Scope.toJSON(scope), maxResults]);
    const cached = this.cache.get(key);
    if (cached?.fresh && this.watchUp) return cached.matches;
    try {
      const generation = this.generation;
      const { matches } = await this.registry.discover({ scope, maxResults });
      this.cache.set(key, { matches, fresh: generation === this.generation });
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
