import { randomBytes } from 'node:crypto';
import type { PeopleGrant } from './people-sign-in.js';

/** A signed-in person. */
export interface Session {
  id: string;
  /** The user subject of every call made for this session. */
  user: string;
  /** The scopes the authorization server grants this person (shown, never trusted: the services decide). */
  scopes: string[];
  /** The person's roles (the token's `roles` claim; shown, never trusted). */
  roles: string[];
  /** With a people issuer: the person's login there (refresh token, access tokens); never sent to the page. */
  people?: PeopleGrant;
  /** Echoed in x-csrf-token on state-changing requests. */
  csrf: string;
  createdAt: number;
  seenAt: number;
}

/** Lifetimes of a session. */
export interface SessionLimits {
  /** Ends a session unused for this long. */
  idleMs: number;
  /** Ends every session this long after sign-in. */
  absoluteMs: number;
}

const token = () => randomBytes(32).toString('base64url');

/**
 * The console's sessions, in memory only (a restart signs everyone out).
 * Ids and CSRF tokens are 256-bit random values; a session ends on sign-out,
 * when idle too long, or at its absolute lifetime.
 */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly limits: SessionLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts a session for a person. */
  create(user: string, scopes: string[], roles: string[] = [], people?: PeopleGrant): Session {
    this.sweep();
    const at = this.now();
    const session: Session = { id: token(), user, scopes, roles, csrf: token(), createdAt: at, seenAt: at };
    if (people) session.people = people;
    this.sessions.set(session.id, session);
    return session;
  }

  /** The live session with this id (and marks it used), or undefined. */
  get(id: string | undefined): Session | undefined {
    const session = id ? this.sessions.get(id) : undefined;
    if (!session) return undefined;
    const at = this.now();
    if (at - session.seenAt > this.limits.idleMs || at - session.createdAt > this.limits.absoluteMs) {
      this.sessions.delete(session.id);
      return undefined;
    }
    session.seenAt = at;
    return session;
  }

  /** Whether a session is still live, without counting this as its use (for streams that outlive requests). */
  live(id: string): boolean {
    const session = this.sessions.get(id);
    const at = this.now();
    return !!session && at - session.seenAt <= this.limits.idleMs && at - session.createdAt <= this.limits.absoluteMs;
  }

  /** Ends a session. */
  delete(id: string): void {
    this.sessions.delete(id);
  }

  private sweep(): void {
    for (const id of [...this.sessions.keys()]) this.get(id);
  }
}
