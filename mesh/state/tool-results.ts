import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import { Code, MeshError } from '../core/index.js';
import { encodeJson, requireText, type JsonValue, type StoreContext } from './context.js';
import { prepared } from './prepared.js';
import type { Database } from './tables.js';

/** The answer of an idempotent invocation. */
export interface IdempotentResult {
  result: JsonValue;
  /** True when the result was stored by an earlier (or concurrent) invocation with the same key. */
  replayed: boolean;
}

/** How an idempotent invocation claims and waits. */
export interface IdempotencyOptions {
  /** The caller: a stored result is replayed to the caller that stored it only, FAILED_PRECONDITION for another. */
  principal: string;
  /** A digest of the arguments: reusing a key with other arguments is FAILED_PRECONDITION. */
  fingerprint?: string;
  /** Another digest of the same arguments also accepted in a stored row (one written by an earlier release); never stored. */
  legacyFingerprint?: string;
  /** How long a claim holds without renewal before another caller may take over (a crashed holder). */
  leaseMs?: number;
  /** How long a duplicate waits for the first invocation to finish before ABORTED (retry later). */
  waitMs?: number;
  signal?: AbortSignal;
}

// Said without the key's result or arguments: they are the other caller's.
const anotherCaller = () => new MeshError(Code.FAILED_PRECONDITION, 'idempotency key already used by another caller');

// The result of a tool call, stored once it is done.
const complete = prepared(
  (trx: Kysely<Database>, _: undefined, result: string, completedAt: string, key: string, owner: string) =>
    trx
      .updateTable('tool_results')
      .set({ status: 'done', result, completed_at: completedAt })
      .where('key', '=', key)
      .where('owner', '=', owner)
      .where('status', '=', 'pending')
      .returning('key'),
);

/**
 * Tool results by idempotency key. The first caller claims the key and acts; concurrent and
 * later callers with the same key get the stored result instead of acting again. Claims are
 * leases judged by the database's clock, so replicas sharing the store agree on when a holder
 * has lapsed whatever their own clocks say.
 */
export class ToolResults {
  constructor(private readonly ctx: StoreContext) {}

  // A claim per tool call: prepared once per lease length (see prepared), in this store's clock.
  private readonly claim = prepared(
    (
      trx: Kysely<Database>,
      leaseMs: number,
      key: string,
      owner: string,
      fingerprint: string | null,
      principal: string,
      createdAt: string,
    ) =>
      trx
        .insertInto('tool_results')
        .values({
          key,
          status: 'pending',
          owner,
          fingerprint,
          result: null,
          lease_until: this.ctx.timeIn(leaseMs),
          principal,
          created_at: createdAt,
          completed_at: null,
        })
        .onConflict((oc) => oc.doNothing())
        .returning('key'),
  );

  /** Runs action at most once per key (unless it fails, which frees the key) and returns its stored result. */
  async run(key: string, options: IdempotencyOptions, action: () => Promise<unknown>): Promise<IdempotentResult> {
    requireText(key, 'idempotency key');
    const principal = requireText(options.principal, 'principal');
    const leaseMs = options.leaseMs ?? 60_000;
    const waitUntil = Date.now() + (options.waitMs ?? 30_000);
    const owner = randomUUID();
    for (let poll = 10; ; poll = Math.min(poll * 2, 200)) {
      if (options.signal?.aborted) throw new MeshError(Code.CANCELLED, 'cancelled while waiting for a tool result');
      const created = this.ctx.now();
      const [inserted] = (
        await this.ctx.write((trx) =>
          this.claim(trx, leaseMs, key, owner, options.fingerprint ?? null, principal, created),
        )
      ).rows;
      if (inserted !== undefined) return this.act(key, owner, leaseMs, principal, action);
      const row = await this.ctx.read((db) =>
        db.selectFrom('tool_results').selectAll().where('key', '=', key).executeTakeFirst(),
      );
      if (row === undefined) continue; // the holder failed and freed the key: claim again
      // A key is its caller's: another caller learns neither the result nor whether its arguments match.
      const sameCaller = row.principal === principal;
      if (
        sameCaller &&
        options.fingerprint !== undefined &&
        row.fingerprint !== null &&
        row.fingerprint !== options.fingerprint &&
        row.fingerprint !== options.legacyFingerprint
      ) {
        throw new MeshError(Code.FAILED_PRECONDITION, `idempotency key ${key} was used with other arguments`);
      }
      if (row.status === 'done') {
        if (!sameCaller) throw anotherCaller();
        return { result: this.ctx.codec.json(row.result), replayed: true };
      }
      if (await this.takeOver(key, row.owner, owner, leaseMs, principal))
        return this.act(key, owner, leaseMs, principal, action);
      if (Date.now() + poll > waitUntil)
        throw new MeshError(Code.ABORTED, `tool invocation ${key} is still in progress: retry later`);
      await sleep(poll);
    }
  }

  // The holder keeps renewing its lease while acting, so only a crashed holder's key is taken over.
  private async act(
    key: string,
    owner: string,
    leaseMs: number,
    principal: string,
    action: () => Promise<unknown>,
  ): Promise<IdempotentResult> {
    const renew = setInterval(
      () => {
        void this.extend(key, owner, leaseMs).catch(() => undefined);
      },
      Math.max(leaseMs / 3, 10),
    );
    renew.unref();
    let result: string;
    try {
      result = encodeJson(await action(), 'tool result');
    } catch (err) {
      await this.ctx.write((trx) =>
        trx
          .deleteFrom('tool_results')
          .where('key', '=', key)
          .where('owner', '=', owner)
          .where('status', '=', 'pending')
          .execute(),
      );
      throw err;
    } finally {
      clearInterval(renew);
    }
    const [done] = (
      await this.ctx.write((trx) => complete(trx, undefined, result, new Date().toISOString(), key, owner))
    ).rows;
    if (done !== undefined) return { result: JSON.parse(result) as JsonValue, replayed: false };
    // Our lease lapsed and another caller took over; the first completion is the answer for all.
    const row = await this.ctx.read((db) =>
      db.selectFrom('tool_results').select(['status', 'result', 'principal']).where('key', '=', key).executeTakeFirst(),
    );
    if (row?.status === 'done' && row.principal !== principal) throw anotherCaller();
    if (row?.status === 'done') return { result: this.ctx.codec.json(row.result), replayed: true };
    throw new MeshError(Code.ABORTED, `tool invocation ${key} lost its claim: retry`);
  }

  private async extend(key: string, owner: string, leaseMs: number): Promise<void> {
    await this.ctx.write((trx) =>
      trx
        .updateTable('tool_results')
        .set({ lease_until: this.ctx.timeIn(leaseMs) })
        .where('key', '=', key)
        .where('owner', '=', owner)
        .where('status', '=', 'pending')
        .execute(),
    );
  }

  // Only a holder whose lease has lapsed by the database's clock, and only one taker, whose result it becomes.
  private async takeOver(key: string, from: string, to: string, leaseMs: number, principal: string): Promise<boolean> {
    const row = await this.ctx.write((trx) =>
      trx
        .updateTable('tool_results')
        .set({ owner: to, lease_until: this.ctx.timeIn(leaseMs), principal })
        .where('key', '=', key)
        .where('owner', '=', from)
        .where('status', '=', 'pending')
        .where('lease_until', '<', this.ctx.timeIn(0))
        .returning('key')
        .executeTakeFirst(),
    );
    return row !== undefined;
  }
}
