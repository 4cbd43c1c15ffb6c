import { randomUUID } from 'node:crypto';
import semver from 'semver';
import { EventEmitter, on } from 'node:events';
import { AgentCard, ToolCard, type DiscoveryScope, type Endpoint } from '../../gen/agentmesh/v1/card.js';
import { compileScope, DiscoveryIndex } from '../../mesh/index.js';
import type { Principal } from '../../mesh/index.js';
import { parseSpiffeId } from '../../mesh/index.js';
import { Code, MeshError } from '../../mesh/index.js';
import type { Store } from '../../mesh/index.js';
import { RegistryRecords, type ChangeToLog, type RegistryChange } from './storage/registry-records.js';
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
 * The registry's model: entries and leases in memory (rebuilt from the
 * store at start), every change written to the store first, discoverable
 * entries in an inverted index, and an ordered change feed for Watch.
 * Writes are serialised so revisions and feed order agree.
 */
export class Registry {
  private readonly entries = new Map<string, LiveEntry>();
  private readonly leaseOwner = new Map<string, string>();
  private readonly index = new DiscoveryIndex<string>();
  private readonly feed = new EventEmitter();
  private queue: Promise<unknown> = Promise.resolve();
  private sweeper: NodeJS.Timeout | undefined;
  revision = 0;

  /** The book of record: entries, leases and the change log in the registry's store. */
  readonly records: RegistryRecords;

  constructor(
    store: Store,
    private readonly log: Logger,
    readonly leases: LeasePolicy = { defaultTtlMs: 30_000, minTtlMs: 2_000, maxTtlMs: 300_000 },
  ) {
    this.records = new RegistryRecords(store.context);
    this.feed.setMaxListeners(0);
  }

  /** Loads the book of record and starts expiring lapsed leases. */
  async start(sweepMs = 1_000): Promise<void> {
    const { entries, leases, revision } = await this.records.loadAll();
    this.revision = revision;
    for (const record of entries) this.entries.set(record.key, { record, leases: new Map() });
    for (const lease of leases) {
      this.entries.get(lease.entryKey)?.leases.set(lease.leaseId, lease);
      this.leaseOwner.set(lease.leaseId, lease.entryKey);
    }
    for (const e of this.entries.values()) this.reindex(e);
    this.log.info({ entries: entries.length, leases: leases.length, revision }, 'registry loaded');
    await this.sweep();
    this.sweeper = setInterval(() => void this.sweep(), sweepMs).unref();
  }

  stop(): void {
    clearInterval(this.sweeper);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private reindex(e: LiveEntry): void {
    if (discoverable(e)) this.index.put({ key: e.record.key, candidate: toCandidate(e), value: e.record.key });
    else this.index.delete(e.record.key);
  }

  private publish(revisions: number[], changes: ChangeToLog[]): void {
    revisions.forEach((revision, i) => {
      this.revision = revision;
      const c = changes[i]!;
      this.feed.emit('change', {
        revision,
        change: c.change,
        entryKey: c.entryKey,
        entry: c.entry,
        at: new Date(),
      } as RegistryChange);
    });
  }

  /** Registers (or updates) a card and one instance of it; only its own workload may. */
  register(
    kind: 'agent' | 'tool',
    card: AgentCard | ToolCard,
    endpoint: Endpoint | undefined,
    ttlMs: number | undefined,
    caller: Principal,
  ) {
    return this.serial(async () => {
      assertOwner(card.name, card.identity, caller);
      if (!endpoint?.address) throw new MeshError(Code.INVALID_ARGUMENT, 'endpoint.address: required');
      if (!endpoint.instanceId) throw new MeshError(Code.INVALID_ARGUMENT, 'endpoint.instance_id: required');
      const key = entryKey(kind, card.name, card.version);
      const existing = this.entries.get(key);
      if (existing && existing.record.identity !== card.identity)
        throw new MeshError(Code.PERMISSION_DENIED, `${card.name} belongs to another identity`);
      if (existing && existing.record.lifecycle === 'RETIRED')
        throw new MeshError(Code.FAILED_PRECONDITION, `${card.name}@${card.version} is retired`);
      const ttl = Math.min(this.leases.maxTtlMs, Math.max(this.leases.minTtlMs, ttlMs || this.leases.defaultTtlMs));
      const expiresAt = new Date(Date.now() + ttl);
      const leaseId = randomUUID();
      const json = kind === 'agent' ? AgentCard.toJSON(card as AgentCard) : ToolCard.toJSON(card as ToolCard);
      const stored = {
        address: endpoint.address,
        adminAddress: endpoint.adminAddress,
        instanceId: endpoint.instanceId,
      };
      // The same instance registering again replaces its previous lease.
      const leases = new Map(existing?.leases ?? []);
      for (const [id, l] of leases) if (l.instanceId === endpoint.instanceId) leases.delete(id);
      leases.set(leaseId, {
        leaseId,
        entryKey: key,
        instanceId: endpoint.instanceId,
        endpoint: stored,
        expiresAt,
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
      const preview: LiveEntry = { record: { ...base, card: json as never }, leases };
      const changes: ChangeToLog[] = discoverable(preview)
        ? [
            {
              change: existing && discoverable(existing) ? 'UPDATED' : 'ADDED',
              entryKey: key,
              entry: toRegistryEntryJson(preview),
            },
          ]
        : [];
      const { entry, revisions } = await this.records.register(
        { key, kind, name: card.name, version: card.version, card: json, identity: card.identity },
        { leaseId, instanceId: endpoint.instanceId, endpoint: stored, expiresAt, ttlMs: ttl },
        changes,
        caller.subject,
      );
      for (const id of existing?.leases.keys() ?? []) if (!leases.has(id)) this.leaseOwner.delete(id);
      const live: LiveEntry = { record: entry, leases };
      this.entries.set(key, live);
      this.leaseOwner.set(leaseId, key);
      this.reindex(live);
      this.publish(revisions, changes);
      return { leaseId, expiresAt, ttlMs: ttl, revision: this.revision };
    });
  }

  private leaseEntry(leaseId: string, caller: Principal): LiveEntry {
    const key = this.leaseOwner.get(leaseId);
    const entry = key ? this.entries.get(key) : undefined;
    if (!entry)
      throw new MeshError(Code.NOT_FOUND, `lease ${leaseId} not found (lapsed or deregistered): register again`);
    assertOwner(entry.record.name, entry.record.identity, caller);
    return entry;
  }

  /** Renews a lease. */
  heartbeat(leaseId: string, caller: Principal) {
    return this.serial(async () => {
      const entry = this.leaseEntry(leaseId, caller);
      // Renew by the TTL granted at registration (stored with the lease, so also after a restart).
      const expiresAt = new Date(Date.now() + entry.leases.get(leaseId)!.ttlMs);
      const renewed = await this.records.renew(leaseId, expiresAt);
      entry.leases.set(leaseId, renewed);
      return expiresAt;
    });
  }

  /** Ends a lease (graceful shutdown). */
  deregister(leaseId: string, caller: Principal) {
    return this.serial(async () => {
      const entry = this.leaseEntry(leaseId, caller);
      await this.endLeases([[entry, leaseId]], caller.subject);
    });
  }

  private async endLeases(ended: [LiveEntry, string][], principal: string): Promise<void> {
    // Work out the result on copies; memory follows only once the store has it.
    const after = new Map<LiveEntry, LiveEntry>();
    for (const [entry, leaseId] of ended) {
      const next = after.get(entry) ?? { record: entry.record, leases: new Map(entry.leases) };
      next.leases.delete(leaseId);
      after.set(entry, next);
    }
    const changes: ChangeToLog[] = [];
    for (const [before, next] of after) {
      if (!discoverable(before)) continue;
      // Still discoverable with fewer instances is an update: watchers must drop the dead endpoint.
      changes.push({
        change: discoverable(next) ? 'UPDATED' : 'REMOVED',
        entryKey: before.record.key,
        entry: toRegistryEntryJson(next),
      });
    }
    const revisions = await this.records.endLeases(
      ended.map(([, id]) => id),
      changes,
      principal,
    );
    for (const [entry, next] of after) {
      entry.leases = next.leases;
      this.reindex(entry);
    }
    for (const [, leaseId] of ended) {
      this.leaseOwner.delete(leaseId);
    }
    this.publish(revisions, changes);
  }

  /** Ends every lease that has lapsed: the entry leaves discovery, its history stays. */
  sweep(): Promise<void> {
    return this.serial(async () => {
      const now = Date.now();
      const lapsed: [LiveEntry, string][] = [];
      for (const e of this.entries.values())
        for (const [id, l] of e.leases) if (l.expiresAt.getTime() <= now) lapsed.push([e, id]);
      if (lapsed.length) {
        this.log.info({ leases: lapsed.map(([e, id]) => `${e.record.key}/${id}`) }, 'leases lapsed');
        await this.endLeases(lapsed, 'registry');
      }
    }).catch((err: unknown) => this.log.error({ err }, 'lease sweep failed'));
  }

  /** Suspends, retires or reactivates every version (or one) of a name. */
  setLifecycle(name: string, version: string, lifecycle: string, reason: string, caller: Principal) {
    return this.serial(async () => {
      if (!caller.scopes.includes(ADMIN_SCOPE))
        throw new MeshError(Code.PERMISSION_DENIED, `changing a lifecycle needs scope ${ADMIN_SCOPE}`);
      const targets = [...this.entries.values()].filter(
        (e) => e.record.name === name && (!version || e.record.version === version),
      );
      if (!targets.length)
        throw new MeshError(Code.NOT_FOUND, `${name}${version ? `@${version}` : ''} is not registered`);
      const changes: ChangeToLog[] = [];
      const updated = targets.map((e) => ({ e, after: { ...e, record: { ...e.record, lifecycle } } }));
      for (const { e, after } of updated) {
        if (discoverable(e) !== discoverable(after)) {
          changes.push({
            change: discoverable(after) ? 'ADDED' : 'REMOVED',
            entryKey: e.record.key,
            entry: toRegistryEntryJson(after),
          });
        }
      }
      // Memory follows the store only once the store has the change.
      const revisions = await this.records.setLifecycle(
        targets.map((e) => e.record.key),
        lifecycle,
        changes,
        caller.subject,
      );
      for (const { e } of updated) {
        e.record = { ...e.record, lifecycle, revision: revisions.at(-1) ?? e.record.revision };
        this.reindex(e);
      }
      this.publish(revisions, changes);
      this.log.info({ name, version, lifecycle, reason, by: caller.subject }, 'lifecycle changed');
      return targets;
    });
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

  /** Changes after `fromRevision` (0: from now), then live ones, until the signal aborts. */
  async *watch(fromRevision: number, signal: AbortSignal): AsyncGenerator<RegistryChange> {
    // A revision this registry never reached (a client of a registry restored from an older backup) would silently skip changes.
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
