import type { Principal } from '../core/index.js';
import { isTerminal, type TaskRecord } from '../state/index.js';
import type { TaskData } from './task-codec.js';

// A token this close to expiry is not used for an exchange: the exchange and the call need time too.
const AUTHORITY_MARGIN_MS = 15_000;

/**
 * The caller's access token per task, for token exchange on agent steps.
 * Memory only: a bearer token never goes to disk.
 */
export class CallerAuthority {
  private readonly authority = new Map<string, { token: string; expiresAt: number }>();
  private nextAuthoritySweep = 0;

  /** The access token of the caller a task runs for, while this process holds one that is not about to expire. */
  tokenFor(taskId: string): string | undefined {
    const held = this.authority.get(taskId);
    return held && held.expiresAt - Date.now() > AUTHORITY_MARGIN_MS ? held.token : undefined;
  }

  /**
   * Keeps the latest token the task's own subject presented (every call of
   * theirs renews it); a terminal task's token is dropped. Whether it kept one.
   */
  keep(task: TaskRecord, caller: Principal): boolean {
    if (isTerminal(task.state)) this.authority.delete(task.id);
    if (!caller.token || (task.data as unknown as TaskData).subject !== caller.subject || isTerminal(task.state))
      return false;
    this.forgetExpiredAuthority();
    const exp = caller.claims.exp;
    this.authority.set(task.id, {
      token: caller.token,
      expiresAt: typeof exp === 'number' ? exp * 1000 : Date.now() + 60_000,
    });
    return true;
  }

  /** Drops the token held for a task (it ended). */
  forget(taskId: string): void {
    this.authority.delete(taskId);
  }

  // A replica that only answers calls about a task (another one runs it) never sees the run end:
  // expired tokens go here, so the map holds at most the tokens still valid.
  private forgetExpiredAuthority(): void {
    const now = Date.now();
    if (now < this.nextAuthoritySweep) return;
    this.nextAuthoritySweep = now + 60_000;
    for (const [id, held] of this.authority) if (held.expiresAt <= now) this.authority.delete(id);
  }
}
