import type { Kysely, Selectable } from 'kysely';
import { Code, MeshError } from '../core/index.js';
import { encodeJson, requireText, requireVersion, staleVersion, type JsonValue, type StoreContext } from './context.js';
import type { ConversationVersionsTable, ConversationsTable, Database } from './tables.js';

/** The current state of a conversation. */
export interface Conversation {
  contextId: string;
  version: number;
  state: JsonValue;
  createdAt: Date;
  createdBy: string;
  updatedAt: Date;
  updatedBy: string;
}

/** One kept version of a conversation's state, with who wrote it, when and why. */
export interface ConversationVersion {
  contextId: string;
  version: number;
  state: JsonValue;
  reason: string | undefined;
  /** Set when this version restored an earlier one. */
  restoredFrom: number | undefined;
  principal: string;
  at: Date;
}

/** A compare-and-set change of a conversation's state. */
export interface ConversationUpdate {
  expectedVersion: number;
  state: unknown;
  principal: string;
  reason?: string;
}

/** Conversation state by context_id, every version kept; updates are compare-and-set. */
export class Conversations {
  constructor(private readonly ctx: StoreContext) {}

  /** Starts a conversation at version 1; ALREADY_EXISTS when the context id is taken. */
  async create(
    contextId: string,
    input: { state: unknown; principal: string; reason?: string },
  ): Promise<Conversation> {
    requireText(contextId, 'context id');
    requireText(input.principal, 'principal');
    const state = encodeJson(input.state, 'conversation state');
    const at = this.ctx.now();
    return this.ctx.write(async (trx) => {
      const inserted = await trx
        .insertInto('conversations')
        .values({
          context_id: contextId,
          version: 1,
          state,
          created_at: at,
          created_by: input.principal,
          updated_at: at,
          updated_by: input.principal,
        })
        .onConflict((oc) => oc.doNothing())
        .returningAll()
        .executeTakeFirst();
      if (inserted === undefined) throw new MeshError(Code.ALREADY_EXISTS, `conversation ${contextId} already exists`);
      await this.keep(trx, contextId, 1, state, input.principal, at, input.reason, undefined);
      return this.toConversation(inserted);
    });
  }

  /** The conversation, or undefined. */
  async find(contextId: string): Promise<Conversation | undefined> {
    return this.ctx.read((db) => this.load(db, contextId));
  }

  /** The conversation; NOT_FOUND when there is none. */
  async get(contextId: string): Promise<Conversation> {
    const found = await this.find(contextId);
    if (found === undefined) throw new MeshError(Code.NOT_FOUND, `conversation ${contextId} not found`);
    return found;
  }

  /** Writes a new version if the conversation is still at expectedVersion, else ABORTED. */
  async update(contextId: string, change: ConversationUpdate): Promise<Conversation> {
    return this.put(contextId, change, undefined);
  }

  /**
   * Restores the state of an earlier version as a new version (history is never rewritten),
   * recording the reason and which version was restored.
   */
  async rollback(
    contextId: string,
    input: { toVersion: number; expectedVersion: number; reason: string; principal: string },
  ): Promise<Conversation> {
    requireText(input.reason, 'rollback reason');
    const target = await this.version(contextId, requireVersion(input.toVersion, 'toVersion'));
    return this.put(contextId, { ...input, state: target.state }, target.version);
  }

  /** Every version, oldest first. */
  async history(contextId: string): Promise<ConversationVersion[]> {
    const rows = await this.ctx.read((db) =>
      db
        .selectFrom('conversation_versions')
        .selectAll()
        .where('context_id', '=', contextId)
        .orderBy('version')
        .execute(),
    );
    return rows.map((r) => this.toVersion(r));
  }

  /** One version; NOT_FOUND when it does not exist. */
  async version(contextId: string, version: number): Promise<ConversationVersion> {
    const row = await this.ctx.read((db) =>
      db
        .selectFrom('conversation_versions')
        .selectAll()
        .where('context_id', '=', contextId)
        .where('version', '=', version)
        .executeTakeFirst(),
    );
    if (row === undefined) throw new MeshError(Code.NOT_FOUND, `conversation ${contextId} has no version ${version}`);
    return this.toVersion(row);
  }

  private async put(
    contextId: string,
    change: ConversationUpdate,
    restoredFrom: number | undefined,
  ): Promise<Conversation> {
    requireText(change.principal, 'principal');
    const expected = requireVersion(change.expectedVersion, 'expectedVersion');
    const state = encodeJson(change.state, 'conversation state');
    const at = this.ctx.now();
    return this.ctx.write(async (trx) => {
      // The version check is in the WHERE clause, so the database decides the race.
      const updated = await trx
        .updateTable('conversations')
        .set({ version: expected + 1, state, updated_at: at, updated_by: change.principal })
        .where('context_id', '=', contextId)
        .where('version', '=', expected)
        .returningAll()
        .executeTakeFirst();
      if (updated === undefined) {
        const current = await this.load(trx, contextId);
        if (current === undefined) throw new MeshError(Code.NOT_FOUND, `conversation ${contextId} not found`);
        throw staleVersion(`conversation ${contextId}`, expected, current.version);
      }
      await this.keep(trx, contextId, expected + 1, state, change.principal, at, change.reason, restoredFrom);
      return this.toConversation(updated);
    });
  }

  private async keep(
    trx: Kysely<Database>,
    contextId: string,
    version: number,
    state: string,
    principal: string,
    at: string,
    reason: string | undefined,
    restoredFrom: number | undefined,
  ): Promise<void> {
    await trx
      .insertInto('conversation_versions')
      .values({
        context_id: contextId,
        version,
        state,
        reason: reason ?? null,
        restored_from: restoredFrom ?? null,
        principal,
        at,
      })
      .execute();
  }

  private async load(db: Kysely<Database>, contextId: string): Promise<Conversation | undefined> {
    const row = await db.selectFrom('conversations').selectAll().where('context_id', '=', contextId).executeTakeFirst();
    return row === undefined ? undefined : this.toConversation(row);
  }

  private toConversation(r: Selectable<ConversationsTable>): Conversation {
    const { json, time } = this.ctx.codec;
    return {
      contextId: r.context_id,
      version: r.version,
      state: json(r.state),
      createdAt: time(r.created_at),
      createdBy: r.created_by,
      updatedAt: time(r.updated_at),
      updatedBy: r.updated_by,
    };
  }

  private toVersion(r: Selectable<ConversationVersionsTable>): ConversationVersion {
    const { json, time } = this.ctx.codec;
    return {
      contextId: r.context_id,
      version: r.version,
      state: json(r.state),
      reason: r.reason ?? undefined,
      restoredFrom: r.restored_from ?? undefined,
      principal: r.principal,
      at: time(r.at),
    };
  }
}
