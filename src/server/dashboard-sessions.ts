import { randomBytes, timingSafeEqual } from "node:crypto";
import type { ReviewerAccount } from "../approvals/reviewer-accounts.js";

export interface DashboardSession {
  id: string;
  /** Synchronizer token: unsafe requests carry it in `X-CSRF-Token`, which another site cannot read or set. */
  csrfToken: string;
  account: ReviewerAccount;
  createdAt: number;
  lastSeenAt: number;
}

export const sessionCookieName = "warden_session";

/**
 * Dashboard login sessions, in the daemon's memory (a restart logs everyone out). A session
 * ends after `idleMs` without a request or `absoluteMs` after login, whichever comes first.
 */
export class DashboardSessions {
  readonly #sessions = new Map<string, DashboardSession>();
  readonly #idleMs: number;
  readonly #absoluteMs: number;
  readonly #now: () => number;

  constructor(options: { idleMs?: number; absoluteMs?: number; now?: () => number } = {}) {
    this.#idleMs = options.idleMs ?? 30 * 60_000;
    this.#absoluteMs = options.absoluteMs ?? 12 * 60 * 60_000;
    this.#now = options.now ?? Date.now;
  }

  get idleMs(): number {
    return this.#idleMs;
  }

  create(account: ReviewerAccount): DashboardSession {
    const now = this.#now();
    const session: DashboardSession = {
      id: randomBytes(32).toString("base64url"),
      csrfToken: randomBytes(32).toString("base64url"),
      account,
      createdAt: now,
      lastSeenAt: now,
    };
    this.#sessions.set(session.id, session);
    this.#sweep(now);
    return session;
  }

  /** The live session with this id (its idle timer restarts), or null. */
  get(id: string): DashboardSession | null {
    const session = this.#sessions.get(id);
    if (!session) return null;
    const now = this.#now();
    if (this.#expired(session, now)) {
      this.#sessions.delete(id);
      return null;
    }
    session.lastSeenAt = now;
    return session;
  }

  delete(id: string): void {
    this.#sessions.delete(id);
  }

  static csrfMatches(session: DashboardSession, given: string | undefined): boolean {
    if (given === undefined) return false;
    const expected = Buffer.from(session.csrfToken);
    const actual = Buffer.from(given);
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }

  #expired(session: DashboardSession, now: number): boolean {
    return now - session.lastSeenAt >= this.#idleMs || now - session.createdAt >= this.#absoluteMs;
  }

  #sweep(now: number): void {
    for (const [id, session] of this.#sessions) if (this.#expired(session, now)) this.#sessions.delete(id);
  }
}

/**
 * Brute-force throttling for logins, keyed by account name and by client address separately:
 * after `maxFailures` failures within `windowMs`, that key is locked out, for `lockMs` doubling
 * with each further failure (capped at 15 minutes). A success clears the key.
 */
export class LoginThrottle {
  readonly #failures = new Map<string, { count: number; firstAt: number; lockedUntil: number }>();
  readonly #maxFailures: number;
  readonly #windowMs: number;
  readonly #lockMs: number;
  readonly #now: () => number;

  constructor(
    options: { maxFailures?: number; windowMs?: number; lockMs?: number; now?: () => number } = {},
  ) {
    this.#maxFailures = options.maxFailures ?? 5;
    this.#windowMs = options.windowMs ?? 15 * 60_000;
    this.#lockMs = options.lockMs ?? 30_000;
    this.#now = options.now ?? Date.now;
  }

  /** Milliseconds until any of the keys may try again (0: now). */
  retryAfterMs(keys: string[]): number {
    const now = this.#now();
    let wait = 0;
    for (const key of keys) {
      const entry = this.#failures.get(key);
      if (entry) wait = Math.max(wait, entry.lockedUntil - now);
    }
    return wait;
  }

  fail(keys: string[]): void {
    const now = this.#now();
    for (const key of keys) {
      let entry = this.#failures.get(key);
      if (!entry || now - entry.firstAt > this.#windowMs) {
        entry = { count: 0, firstAt: now, lockedUntil: 0 };
        this.#failures.set(key, entry);
      }
      entry.count += 1;
      if (entry.count >= this.#maxFailures) {
        const doublings = Math.min(entry.count - this.#maxFailures, 5);
        entry.lockedUntil = now + Math.min(this.#lockMs * 2 ** doublings, 15 * 60_000);
      }
    }
    if (this.#failures.size > 100_000) this.#failures.clear();
  }

  succeed(keys: string[]): void {
    for (const key of keys) this.#failures.delete(key);
  }
}
