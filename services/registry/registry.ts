import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import semver from 'semver';
import { EventEmitter, on } from 'node:events';
import { AgentCard, ToolCard, type DiscoveryScope, type Endpoint } from '../../gen/agentmesh/v1/card.js';
import { compileScope, DiscoveryIndex, externalEndpointOf } from '../../mesh/index.js';
import type { Principal } from '../../mesh/index.js';
import { parseSpiffeId } from '../../mesh/index.js';
import { Code, MeshError } from '../../mesh/index.js';
import type { Store } from '../../mesh/index.js';
import {
  RegistryRecords,
  type ChangeToLog,
  type LeaseRecord,
  type RegistryChange,
  type RegistryEntryRecord,
} from './storage/registry-records.js';
import type { RegistryWrite } from './storage/registry-write.js';
import { GroupCommit } from './storage/group-commit.js';
import { followChanges } from './follow-changes.js';
import type { Logger } from '../../mesh/index.js';
import {
  discoverable,
  entryKey,
  labelsOf,
  toCandidate,
  toRegistryEntry,
  visibleTo,
  type LiveEntry,
} from './entries.js';

/** The namespace of a caller's workload identity. */
export function namespaceOf(caller: Principal): string | undefined {
  return caller.peer.spiffeId ? parseSpiffeId(caller.peer.spiffeId)?.namespace : undefined;
}

/** Lease bounds: long enough to survive a GC pause, short enough that dead instances vanish quickly. */
export interface LeasePolicy {
  defaultTtlMs: number;
  minTtlMs: number;
  maxTtlMs: number;
}

/** The admin scope that may change lifecycles and see inactive entries. */
export const ADMIN_SCOPE = 'registry.admin';

/**
 * The registry's model, one of possibly several replicas over one store. The store
 * is the book of record: every write runs in a transaction that serialises writers
 * across replicas and logs its changes with store-assigned revisions. Each replica
 * follows the store (entries changed past its position, then the change log) to keep
 * its in-memory entries, discovery index and Watch feed current; its own writes reach
 * memory the same way, so nothing is applied twice.
 */
export class Registry {
  private readonly entries = new Map<string, LiveEntry>();
  private readonly index: DiscoveryIndex<string>;
  private readonly feed = new EventEmitter();
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping = false;
  private loaded = false;
  private unfollow: (() => void) | undefined;
  private pulling: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  /** The last write this replica's memory reflects. */
  private seq = 0;
  /** The last revision this replica's memory and Watch feed reflect. */
  revision = 0;

  /** The book of record: entries, leases and the change log in the registry's store. */
  readonly records: RegistryRecords;
  /** Writes arriving together commit together: one transaction, one lock on the counter row, one fsync. */
  private readonly writes: GroupCommit<RegistryWrite>;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    readonly leases: LeasePolicy = { defaultTtlMs: 30_000, minTtlMs: 2_000, maxTtlMs: 300_000 },
    discovery: { maxExamined?: number } = {},
  ) {
    this.index = new DiscoveryIndex<string>(discovery);
    this.records = new RegistryRecords(store.context);
    this.writes = new GroupCommit<RegistryWrite>({
      transaction: (body) => this.records.write(body),
      isolate: (tx, write) => this.records.isolate(tx, write),
      attempt: (tx, write) => this.records.attempt(tx, write),
      afterCommit: () => this.catchUp(),
    });
    this.feed.setMaxListeners(0);
  }

  /**
   * Loads the book of record, then follows other replicas' writes and sweeps lapsed
   * leases. Resolves once memory has caught up with the store: only then may the
   * replica serve (readiness).
   */
  async start(sweepMs = 1_000): Promise<void> {
    // Listening first, then loading, then one more catch-up: a write committed at any point
    // is either in what was loaded or read by that catch-up.
    this.unfollow = await followChanges(this.store, () => (this.loaded ? this.catchUp() : Promise.resolve()));
    const { entries, leases, revision, seq } = await this.records.loadAll();
    this.apply(entries, leases);
    this.revision = revision;
    this.seq = seq;
    this.loaded = true;
    await this.catchUp();
    this.log.info({ entries: entries.length, leases: leases.length, revision: this.revision }, 'registry loaded');
    await this.sweep();
    // Each tick also catches up: a safety net for changes nobody announced (a registry of an older
    // release during an upgrade, a pooler that dropped LISTEN), which bounds how stale a replica gets.
    this.sweeper = setInterval(() => {
      void this.sweep();
      if (this.loaded) void this.catchUp();
    }, sweepMs).unref();
  }

  stop(): void {
    this.loaded = false;
    clearInterval(this.sweeper);
    this.unfollow?.();
  }

  /**
   * Brings memory and the Watch feed up to the store. Calls while a pull runs share one
   * further pull, which starts after it (so it sees every write committed before the call).
   */
  catchUp(): Promise<void> {
    if (!this.pulling) {
      this.pulling = this.pull()
        .catch((err: unknown) => {
          // No notice may come for a while: try again soon rather than stay behind.
          this.log.error({ err }, 'following the registry store failed; retrying in 1 s');
          setTimeout(() => void (this.loaded && this.catchUp()), 1_000).unref();
        })
        .finally(() => (this.pulling = undefined));
      return this.pulling;
    }
    this.queued ??= this.pulling.then(() => {
      this.queued = undefined;
      return this.catchUp();
    });
    return this.queued;
  }

  private async pull(): Promise<void> {
    // Every write up to this position has committed, so what is read next includes it.
    const at = await this.records.position();
    if (at.seq === this.seq && at.revision <= this.revision) return;
    const changes: RegistryChange[] = [];
    for (let last = this.revision; last < at.revision;) {
      const page = await this.records.changesAfter(last, 500, at.revision);
      if (!page.length) break;
      changes.push(...page);
      last = page.at(-1)!.revision;
    }
    const { entries, leases } = await this.records.entriesChangedAfter(
      this.seq,
      changes.map((c) => c.entryKey),
    );
    this.apply(entries, leases);
    this.seq = at.seq;
    // Watchers hear of a change only once memory reflects it (a Discover after a change sees it).
    for (const c of changes) {
      this.revision = c.revision;
      this.feed.emit('change', c);
    }
  }

  /** Replaces entries (and all of their leases) in memory with what the store holds. */
  private apply(entries: RegistryEntryRecord[], leases: LeaseRecord[]): void {
    const byEntry = new Map<string, Map<string, LeaseRecord>>();
    for (const l of leases) {
      const of = byEntry.get(l.entryKey) ?? new Map<string, LeaseRecord>();
      of.set(l.leaseId, l);
      byEntry.set(l.entryKey, of);
    }
    for (const record of entries) {
      const live: LiveEntry = { record, leases: byEntry.get(record.key) ?? new Map() };
      this.entries.set(record.key, live);
      this.reindex(live);
    }
  }

  private reindex(e: LiveEntry): void {
    if (discoverable(e)) this.index.put({ key: e.record.key, candidate: toCandidate(e), value: e.record.key });
    else this.index.delete(e.record.key);
  }

  /**
   * Runs a write on the store (in a batch with the writes queued beside it: see GroupCommit),
   * and answers once it has committed and memory has caught up with it (read-your-writes on
   * this replica). Returns the write's revision: its last change's, or the store's if it logged none.
   */
  private async write<T>(fn: (tx: RegistryWrite) => Promise<T>): Promise<T & { revision: number }> {
    return this.writes.submit(async (tx) => ({ ...(await fn(tx)), revision: tx.revision }));
  }

  /** Registers (or updates) a card and one instance of it; only its own workload may. */
  async register(
    kind: 'agent' | 'tool',
    card: AgentCard | ToolCard,
    endpoint: Endpoint | undefined,
    ttlMs: number | undefined,
    caller: Principal,
  ) {
    assertOwner(card.name, card.identity, caller);
    if (!endpoint?.address) throw new MeshError(Code.INVALID_ARGUMENT, 'endpoint.address: required');
    if (!endpoint.instanceId) throw new MeshError(Code.INVALID_ARGUMENT, 'endpoint.instance_id: required');
    const key = entryKey(kind, card.name, card.version);
    const ttl = Math.min(this.leases.maxTtlMs, Math.max(this.leases.minTtlMs, ttlMs || this.leases.defaultTtlMs));
    const leaseId = randomUUID();
    const json = kind === 'agent' ? AgentCard.toJSON(card as AgentCard) : ToolCard.toJSON(card as ToolCard);
    const stored = {
      address: endpoint.address,
      adminAddress: endpoint.adminAddress,
      instanceId: endpoint.instanceId,
      ...(endpoint.mcpUrl && { mcpUrl: endpoint.mcpUrl }),
    };
    const { expiresAt, revision } = await this.write(async (tx) => {
      const versions = await tx.entries({ name: card.name });
      const external = versions.find((v) => v.record.identity === '');
      if (external)
        throw new MeshError(
          Code.PERMISSION_DENIED,
          `${card.name} is ${external.record.kind === 'agent' ? 'an external agent' : 'an external MCP server'}'s name`,
        );
      const existing = versions.find((v) => v.record.key === key);
      if (existing && existing.record.identity !== card.identity)
        throw new MeshError(Code.PERMISSION_DENIED, `${card.name} belongs to another identity`);
      if (existing && existing.record.lifecycle === 'RETIRED')
        throw new MeshError(Code.FAILED_PRECONDITION, `${card.name}@${card.version} is retired`);
      // The same instance registering again replaces its previous lease.
      const leases = new Map(existing?.leases ?? []);
      let replaces = false;
      for (const [id, l] of leases)
        if (l.instanceId === endpoint.instanceId) {
          leases.delete(id);
          replaces = true;
        }
      leases.set(leaseId, {
        leaseId,
        entryKey: key,
        instanceId: endpoint.instanceId,
        endpoint: stored,
        expiresAt: new Date(),
        ttlMs: ttl,
      });
      const now = new Date();
      const base = existing?.record ?? {
        key,
        kind,
        name: card.name,
        version: card.version,
        identity: card.identity,
        lifecycle: 'ACTIVE',
        revision: 0,
        registeredAt: now,
        updatedAt: now,
        card: json,
      };
      await storeEntry(tx, { record: { ...base, card: json as never }, leases }, existing, json, caller.subject);
      const expiresAt = await tx.grantLease(
        {
          leaseId,
          entryKey: key,
          instanceId: endpoint.instanceId,
          endpoint: stored,
          ttlMs: ttl,
        },
        replaces,
      );
      return { expiresAt };
    });
    return { leaseId, expiresAt, ttlMs: ttl, revision };
  }

  /**
   * Registers (or updates) an external A2A agent's card or an external MCP server's (admin only).
   * It has no lease: the entry stays discoverable, at the one endpoint its card names (the A2A
   * card's GRPC address, the MCP server's URL), until an administrator suspends or retires it.
   * Registering the same card again changes nothing (a retried call is harmless).
   */
  async registerExternal(kind: 'agent' | 'tool', card: AgentCard | ToolCard, caller: Principal) {
    const what = kind === 'agent' ? 'an external agent' : 'an external MCP server';
    if (!caller.scopes.includes(ADMIN_SCOPE))
      throw new MeshError(Code.PERMISSION_DENIED, `registering ${what} needs scope ${ADMIN_SCOPE}`);
    const key = entryKey(kind, card.name, card.version);
    const json = kind === 'agent' ? AgentCard.toJSON(card as AgentCard) : ToolCard.toJSON(card as ToolCard);
    const { revision, changed } = await this.write(async (tx) => {
      const named = await tx.entries({ name: card.name });
      // A name belongs either to a mesh workload or to one external entry, in every version and kind
      // (tokens for an external server at the mesh's authorization server are for its name).
      const owned = named.find((e) => e.record.identity !== '');
      if (owned)
        throw new MeshError(
          Code.FAILED_PRECONDITION,
          `${card.name} is the mesh workload ${owned.record.identity}'s: ${what} needs another name`,
        );
      const other = named.find((e) => e.record.kind !== kind);
      if (other)
        throw new MeshError(
          Code.FAILED_PRECONDITION,
          `${card.name} is already ${other.record.kind === 'agent' ? 'an external agent' : 'an external MCP server'}'s name`,
        );
      const existing = named.find((e) => e.record.key === key);
      if (existing?.record.lifecycle === 'RETIRED')
        throw new MeshError(Code.FAILED_PRECONDITION, `${card.name}@${card.version} is retired`);
      if (existing && isDeepStrictEqual(existing.record.card, json)) return { changed: false };
      const now = new Date();
      const record: RegistryEntryRecord = existing
        ? { ...existing.record, card: json as never }
        : {
            key,
            kind,
            name: card.name,
            version: card.version,
            identity: '',
            lifecycle: 'ACTIVE',
            revision: 0,
            registeredAt: now,
            updatedAt: now,
            card: json as never,
          };
      await storeEntry(tx, { record, leases: new Map() }, existing, json, caller.subject);
      return { changed: true };
    });
    if (changed)
      this.log.info(
        { name: card.name, version: card.version, address: externalEndpointOf(json)?.address, by: caller.subject },
        kind === 'agent' ? 'external agent registered' : 'external MCP server registered',
      );
    return { revision };
  }

  /** Renews a lease, whichever replica granted it; the database decides expiry. */
  async heartbeat(leaseId: string, caller: Principal): Promise<Date> {
    const found = await this.records.findLease(leaseId);
    if (!found) throw leaseNotFound(leaseId);
    assertOwner(found.entry.name, found.entry.identity, caller);
    return this.records.renew(leaseId, found.lease.ttlMs);
  }

  /** Ends a lease (graceful shutdown), whichever replica granted it. */
  async deregister(leaseId: string, caller: Principal): Promise<void> {
    await this.write(async (tx) => {
      const found = await tx.leaseWithEntry(leaseId);
      if (!found) throw leaseNotFound(leaseId);
      assertOwner(found.entry.name, found.entry.identity, caller);
      await endLeases(tx, await tx.endLeases([leaseId]), caller.subject);
      return {};
    });
  }

  /**
   * Ends every lease that has lapsed by the database's clock: the entry leaves
   * discovery, its history stays. Replicas race harmlessly: writers queue on the
   * store's counter, and only the one whose delete removed a lease logs its end.
   */
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      if (!(await this.records.anyLapsed())) return;
      const { lapsed } = await this.write(async (tx) => {
        const ended = await tx.endLapsedLeases();
        await endLeases(tx, ended, 'registry');
        return { lapsed: ended };
      });
      if (lapsed.length) this.log.info({ leases: lapsed.map((l) => `${l.entryKey}/${l.leaseId}`) }, 'leases lapsed');
    } catch (err) {
      this.log.error({ err }, 'lease sweep failed');
    } finally {
      this.sweeping = false;
    }
  }

  /** Suspends, retires or reactivates every version (or one) of a name. */
  async setLifecycle(name: string, version: string, lifecycle: string, reason: string, caller: Principal) {
    if (!caller.scopes.includes(ADMIN_SCOPE))
      throw new MeshError(Code.PERMISSION_DENIED, `changing a lifecycle needs scope ${ADMIN_SCOPE}`);
    const { targets } = await this.write(async (tx) => {
      const stored = await tx.entries({ name, version });
      if (!stored.length)
        throw new MeshError(Code.NOT_FOUND, `${name}${version ? `@${version}` : ''} is not registered`);
      const changes: ChangeToLog[] = [];
      const updated = stored.map((e) => ({ e, after: { ...e, record: { ...e.record, lifecycle } } }));
      for (const { e, after } of updated) {
        if (discoverable(e) !== discoverable(after)) {
          changes.push({
            change: discoverable(after) ? 'ADDED' : 'REMOVED',
            entryKey: e.record.key,
            entry: toRegistryEntryJson(after),
          });
        }
      }
      const revisions = await tx.log(changes, caller.subject);
      const revision = revisions.at(-1) ?? 0;
      await tx.setLifecycle(
        stored.map((e) => e.record.key),
        lifecycle,
        revision,
        caller.subject,
      );
      return { targets: updated.map(({ after }): LiveEntry => ({ ...after, record: { ...after.record, revision } })) };
    });
    this.log.info({ name, version, lifecycle, reason, by: caller.subject }, 'lifecycle changed');
    return targets;
  }

  /** Every version of a name and kind the caller may see, highest first. */
  versions(kind: 'agent' | 'tool', name: string, caller: Principal): LiveEntry[] {
    const ns = namespaceOf(caller);
    const admin = caller.scopes.includes(ADMIN_SCOPE);
    return [...this.entries.values()]
      .filter(
        (e) => e.record.kind === kind && e.record.name === name && (admin || visibleTo(e.record.name, labelsOf(e), ns)),
      )
      .sort((a, b) => compareVersionsDesc(a.record.version, b.record.version));
  }

  /** Entries of a kind the caller may see, by key, for paging. */
  all(kind: 'agent' | 'tool', caller: Principal): LiveEntry[] {
    const ns = namespaceOf(caller);
    const admin = caller.scopes.includes(ADMIN_SCOPE);
    return [...this.entries.values()]
      .filter((e) => e.record.kind === kind && (admin || visibleTo(e.record.name, labelsOf(e), ns)))
      .sort((a, b) => a.record.key.localeCompare(b.record.key));
  }

  /** Ranked matches for a scope, limited by the caller's own visibility. */
  discover(scope: DiscoveryScope | undefined, limit: number, caller: Principal) {
    const compiled = compileScope(scope);
    const callerNs = namespaceOf(caller);
    return this.index
      .search(compiled, limit, (e) => visibleTo(e.candidate.name, labelsOf(this.entries.get(e.value)!), callerNs))
      .map((r) => ({
        entry: toRegistryEntry(this.entries.get(r.value)!),
        score: r.match.score,
        reasons: r.match.reasons,
      }));
  }

  /**
   * Changes after `fromRevision` (0: from now), then live ones, until the signal aborts. Between
   * the replay and the live changes comes a `caughtUp` marker: every change up to its revision
   * has been yielded.
   */
  async *watch(fromRevision: number, signal: AbortSignal): AsyncGenerator<RegistryChange | WatchCaughtUp> {
    // A client may resume from a revision another replica told it of: follow the store first.
    if (fromRevision > this.revision) await this.catchUp();
    // A revision the store never reached (a client of a registry restored from an older backup) would silently skip changes.
    if (fromRevision > this.revision) {
      throw new MeshError(
        Code.OUT_OF_RANGE,
        `from_revision ${fromRevision} is beyond the registry's revision ${this.revision}: watch from 0 and re-read`,
      );
    }
    const live = on(this.feed, 'change', { signal });
    let last = fromRevision > 0 ? fromRevision : this.revision;
    if (fromRevision > 0) {
      for (;;) {
        const page = await this.records.changesAfter(last, 500);
        for (const c of page) {
          last = c.revision;
          yield c;
        }
        if (page.length < 500) break;
      }
    }
    yield { caughtUp: last };
    try {
      for await (const [change] of live) {
        const c = change as RegistryChange;
        if (c.revision <= last) continue;
        last = c.revision;
        yield c;
      }
    } catch (err) {
      if ((err as Error).name !== 'AbortError') throw err;
    }
  }
}

/** Said by a Watch once it has yielded every change up to `caughtUp` (after its replay). */
export interface WatchCaughtUp {
  caughtUp: number;
}

/** Works out what ending leases changed (an entry losing an instance or its last one) and logs it. */
async function endLeases(tx: RegistryWrite, ended: LeaseRecord[], principal: string): Promise<void> {
  const keys = [...new Set(ended.map((l) => l.entryKey))];
  const changes: ChangeToLog[] = [];
  for (const key of keys) {
    const [after] = await tx.entries({ key });
    if (!after) continue;
    const before: LiveEntry = { record: after.record, leases: new Map(after.leases) };
    for (const l of ended) if (l.entryKey === key) before.leases.set(l.leaseId, l);
    if (!discoverable(before)) continue;
    // Still discoverable with fewer instances is an update: watchers must drop the dead endpoint.
    changes.push({
      change: discoverable(after) ? 'UPDATED' : 'REMOVED',
      entryKey: key,
      entry: toRegistryEntryJson(after),
    });
  }
  await tx.log(changes, principal);
  await tx.touch(keys);
}

function leaseNotFound(leaseId: string): MeshError {
  return new MeshError(Code.NOT_FOUND, `lease ${leaseId} not found (lapsed or deregistered): register again`);
}

/**
 * Stores a registered entry in its new state, logging the change watchers see
 * (ADDED or UPDATED) when the entry is discoverable in that state.
 */
async function storeEntry(
  tx: RegistryWrite,
  after: LiveEntry,
  existing: LiveEntry | undefined,
  json: unknown,
  subject: string,
): Promise<void> {
  const { key, kind, name, version, identity } = after.record;
  const changes: ChangeToLog[] = discoverable(after)
    ? [
        {
          change: existing && discoverable(existing) ? 'UPDATED' : 'ADDED',
          entryKey: key,
          entry: toRegistryEntryJson(after),
        },
      ]
    : [];
  const revisions = await tx.log(changes, subject);
  await tx.putEntry(
    { key, kind, name, version, card: json, identity },
    existing !== undefined,
    revisions.at(-1) ?? existing?.record.revision ?? 0,
    subject,
  );
}

function toRegistryEntryJson(e: LiveEntry): unknown {
  const entry = toRegistryEntry(e);
  return {
    ...entry,
    card:
      entry.card?.$case === 'agent'
        ? { agent: AgentCard.toJSON(entry.card.agent) }
        : { tool: ToolCard.toJSON((entry.card as { tool: ToolCard }).tool) },
  };
}

/** Only the workload named by the card may change it: its SPIFFE ID and its token subject. */
function assertOwner(name: string, identity: string, caller: Principal): void {
  if (caller.peer.spiffeId !== identity) {
    throw new MeshError(
      Code.PERMISSION_DENIED,
      `only ${identity} may change ${name} (caller is ${caller.peer.spiffeId ?? 'without workload identity'})`,
    );
  }
  if (caller.subject !== name)
    throw new MeshError(
      Code.PERMISSION_DENIED,
      `only the token subject ${name} may change ${name} (subject is ${caller.subject})`,
    );
}

function compareVersionsDesc(a: string, b: string): number {
  return semver.rcompare(a, b);
}
