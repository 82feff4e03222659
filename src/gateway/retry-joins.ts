import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";

/** A complete non-streamed answer, as the first attempt's client was (or would have been) sent it. */
export interface SettledAnswer {
  status: number;
  headers: Record<string, string | string[]>;
  text: string;
}

export interface RetryJoinOptions {
  /** How long a successful answer stays available to retries; default 60 s. */
  replayWindowMs?: number;
  /** How long an attempt whose client went away keeps running, for a retry to take over; default 10 s. */
  abandonedGraceMs?: number;
  /** Most bytes of answers kept for replay, all agents together; default 32 MiB. */
  maxReplayBytes?: number;
}

/** One attempt, in flight or settled. */
export class Attempt {
  readonly firstSpanId: string;
  settled: SettledAnswer | null = null;
  readonly #waiters: ((answer: SettledAnswer) => void)[] = [];
  #abandonTimer: NodeJS.Timeout | undefined;
  #abandon: (() => void) | null = null;

  constructor(firstSpanId: string) {
    this.firstSpanId = firstSpanId;
  }

  /** Whether a retry is waiting for this attempt's answer. */
  get joined(): boolean {
    return this.#waiters.length > 0;
  }

  wait(): Promise<SettledAnswer> {
    if (this.settled !== null) return Promise.resolve(this.settled);
    if (this.#abandonTimer !== undefined) {
      // A retry arrived within the grace: the attempt goes on for it.
      clearTimeout(this.#abandonTimer);
      this.#abandonTimer = undefined;
      this.#abandon = null;
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** The first client went away: stop (`abort`) after `graceMs` unless a retry joins first. */
  abandoned(graceMs: number, abort: () => void): void {
    if (this.settled !== null) return;
    if (this.joined) return;
    this.#abandon = abort;
    this.#abandonTimer = setTimeout(() => {
      this.#abandonTimer = undefined;
      const stop = this.#abandon;
      this.#abandon = null;
      stop?.();
    }, graceMs);
    this.#abandonTimer.unref();
  }

  settle(answer: SettledAnswer): void {
    if (this.settled !== null) return;
    this.settled = answer;
    clearTimeout(this.#abandonTimer);
    for (const resolve of this.#waiters.splice(0)) resolve(answer);
  }
}

/**
 * De-duplicates client retries of non-streamed model calls. The official OpenAI and Anthropic
 * SDKs mark a retry with `X-Stainless-Retry-Count` ≥ 1 (other clients may send an
 * `Idempotency-Key`). A retry of a call the same agent made with the same body is answered
 * with the first attempt's answer — joining it while it still runs, or replaying it when it
 * succeeded within the replay window — instead of calling the model (and deciding its tool
 * calls) again. An attempt whose client went away keeps running for a short grace so that the
 * retry can take it over. First attempts are never joined: identical independent requests
 * (sampling the same prompt n times) each reach the model.
 */
export class RetryJoins {
  readonly #attempts = new Map<string, Attempt>();
  /** Settled successful answers in settling order, for expiry and the byte budget. */
  readonly #replayable: { key: string; attempt: Attempt; at: number; bytes: number }[] = [];
  #replayBytes = 0;
  readonly #replayWindowMs: number;
  readonly abandonedGraceMs: number;
  readonly #maxReplayBytes: number;
  readonly #now: () => number;

  constructor(options: RetryJoinOptions = {}, now: () => number = Date.now) {
    this.#replayWindowMs = options.replayWindowMs ?? 60_000;
    this.abandonedGraceMs = options.abandonedGraceMs ?? 10_000;
    this.#maxReplayBytes = options.maxReplayBytes ?? 32 * 1024 * 1024;
    this.#now = now;
  }

  /** The key of a call: agent and idempotency key, else agent, path and the body's SHA-256. */
  static keyOf(request: IncomingMessage, agentId: string, path: string, bodyText: string): string {
    const idempotencyKey = request.headers["idempotency-key"];
    if (typeof idempotencyKey === "string" && idempotencyKey !== "")
      return `${agentId}\0key\0${idempotencyKey}`;
    return `${agentId}\0${path}\0${createHash("sha256").update(bodyText).digest("base64")}`;
  }

  /** Whether the client marks this request as a retry of an earlier one. */
  static isRetry(request: IncomingMessage): boolean {
    const idempotencyKey = request.headers["idempotency-key"];
    if (typeof idempotencyKey === "string" && idempotencyKey !== "") return true;
    const count = Number(request.headers["x-stainless-retry-count"]);
    return Number.isInteger(count) && count >= 1;
  }

  /** An earlier attempt a retry may join: in flight, or settled successfully within the window. */
  find(key: string): Attempt | undefined {
    this.#expire();
    return this.#attempts.get(key);
  }

  /** Registers a first attempt (replacing any older one under the key). */
  begin(key: string, spanId: string): Attempt {
    const attempt = new Attempt(spanId);
    this.#attempts.set(key, attempt);
    return attempt;
  }

  /** Settles an attempt; a successful answer stays replayable for the window, others are forgotten. */
  settle(key: string, attempt: Attempt, answer: SettledAnswer): void {
    attempt.settle(answer);
    if (this.#attempts.get(key) !== attempt) return;
    const bytes = answer.text.length * 2;
    if (answer.status >= 300 || bytes > this.#maxReplayBytes) {
      this.#attempts.delete(key);
      return;
    }
    this.#replayable.push({ key, attempt, at: this.#now(), bytes });
    this.#replayBytes += bytes;
    this.#expire();
  }

  /** An attempt that ended without an answer (the client went away and no retry came). */
  forget(key: string, attempt: Attempt): void {
    if (this.#attempts.get(key) === attempt && attempt.settled === null) this.#attempts.delete(key);
  }

  #expire(): void {
    const now = this.#now();
    while (this.#replayable.length > 0) {
      const oldest = this.#replayable[0]!;
      if (now - oldest.at < this.#replayWindowMs && this.#replayBytes <= this.#maxReplayBytes) break;
      this.#replayable.shift();
      this.#replayBytes -= oldest.bytes;
      if (this.#attempts.get(oldest.key) === oldest.attempt) this.#attempts.delete(oldest.key);
    }
  }
}
