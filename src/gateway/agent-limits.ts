import type { AgentLimits, LimitsConfig } from "../core/config.js";
import { isRecord } from "./gateway-api.js";

export type { AgentLimits, LimitsConfig };

/** An agent's recent model traffic (sliding windows, one bucket of slack). */
export interface AgentUsageFacts {
  requestsLastMinute: number;
  tokensLastMinute: number;
  tokensLastDay: number;
}

/** Why a request was refused, for the client's 429. */
export interface LimitRefusal {
  limit: "requests" | "tokens";
  message: string;
  retryAfterSeconds: number;
}

const minuteMs = 60_000;
const dayMs = 24 * 60 * minuteMs;

/**
 * A sliding window in buckets: amounts older than the window are forgotten bucket by bucket,
 * at the end of their bucket (so a bucket counts up to one bucket longer, never shorter).
 */
class SlidingWindow {
  readonly #windowMs: number;
  readonly #bucketMs: number;
  readonly #buckets: { start: number; amount: number }[] = [];
  #total = 0;

  constructor(windowMs: number, bucketMs: number) {
    this.#windowMs = windowMs;
    this.#bucketMs = bucketMs;
  }

  total(now: number): number {
    this.#evict(now);
    return this.#total;
  }

  add(now: number, amount: number): void {
    if (amount <= 0) return;
    this.#evict(now);
    const start = now - (now % this.#bucketMs);
    const last = this.#buckets[this.#buckets.length - 1];
    if (last?.start === start) last.amount += amount;
    else this.#buckets.push({ start, amount });
    this.#total += amount;
  }

  /** Milliseconds until the total falls to `target` or below. */
  msUntilAtMost(now: number, target: number): number {
    this.#evict(now);
    let remaining = this.#total;
    for (const bucket of this.#buckets) {
      if (remaining <= target) break;
      remaining -= bucket.amount;
      if (remaining <= target) return this.#endOf(bucket) - now;
    }
    return 0;
  }

  #endOf(bucket: { start: number }): number {
    return bucket.start + this.#bucketMs + this.#windowMs;
  }

  #evict(now: number): void {
    while (this.#buckets.length > 0 && this.#endOf(this.#buckets[0]!) <= now) {
      this.#total -= this.#buckets.shift()!.amount;
    }
  }
}

interface AgentUsage {
  requests: SlidingWindow;
  tokensMinute: SlidingWindow;
  tokensDay: SlidingWindow;
}

/**
 * Per-agent rate limits and token budgets for model traffic. A request is admitted while the
 * agent is under every configured limit; tokens are charged from the usage the upstream reports
 * once the response is complete, so one request may overshoot a token budget (the next one is
 * refused). Agents and limits not configured are not limited, but are counted: rules read the
 * counts as `agent.usage`. Counts are per daemon, in memory.
 */
export class AgentTrafficLimits {
  readonly #config: LimitsConfig;
  readonly #now: () => number;
  readonly #usage = new Map<string, AgentUsage>();

  constructor(config: LimitsConfig, now: () => number = Date.now) {
    this.#config = config;
    this.#now = now;
  }

  limitsFor(agentId: string): AgentLimits | undefined {
    return Object.hasOwn(this.#config.agents, agentId) ? this.#config.agents[agentId] : this.#config.default;
  }

  /** Refuses the request if a limit is reached; otherwise counts it (agents without limits too). */
  admit(agentId: string): LimitRefusal | null {
    const now = this.#now();
    const usage = this.#usageOf(agentId);
    const limits = this.limitsFor(agentId);
    if (limits === undefined) {
      usage.requests.add(now, 1);
      return null;
    }
    const { requestsPerMinute, tokensPerMinute, tokensPerDay } = limits;
    if (requestsPerMinute !== undefined && usage.requests.total(now) >= requestsPerMinute) {
      return refusal(
        "requests",
        `Warden's limit for agent "${agentId}" is ${requestsPerMinute} requests per minute.`,
        usage.requests.msUntilAtMost(now, requestsPerMinute - 1),
      );
    }
    if (tokensPerMinute !== undefined && usage.tokensMinute.total(now) >= tokensPerMinute) {
      return refusal(
        "tokens",
        `Warden's budget for agent "${agentId}" is ${tokensPerMinute} tokens per minute, and it is used up.`,
        usage.tokensMinute.msUntilAtMost(now, tokensPerMinute - 1),
      );
    }
    if (tokensPerDay !== undefined && usage.tokensDay.total(now) >= tokensPerDay) {
      return refusal(
        "tokens",
        `Warden's budget for agent "${agentId}" is ${tokensPerDay} tokens per day, and it is used up.`,
        usage.tokensDay.msUntilAtMost(now, tokensPerDay - 1),
      );
    }
    usage.requests.add(now, 1);
    return null;
  }

  /** Charges the tokens of a response's `usage` (any of the three wire formats). */
  charge(agentId: string, usage: unknown): void {
    const tokens = tokensOf(usage);
    if (tokens === 0) return;
    const now = this.#now();
    const agentUsage = this.#usageOf(agentId);
    agentUsage.tokensMinute.add(now, tokens);
    agentUsage.tokensDay.add(now, tokens);
  }

  /** What rules see as `agent.usage`: the agent's model traffic through this daemon so far. */
  usageOf(agentId: string): AgentUsageFacts {
    const usage = this.#usage.get(agentId);
    if (usage === undefined) return { requestsLastMinute: 0, tokensLastMinute: 0, tokensLastDay: 0 };
    const now = this.#now();
    return {
      requestsLastMinute: usage.requests.total(now),
      tokensLastMinute: usage.tokensMinute.total(now),
      tokensLastDay: usage.tokensDay.total(now),
    };
  }

  #usageOf(agentId: string): AgentUsage {
    let usage = this.#usage.get(agentId);
    if (usage === undefined) {
      usage = {
        requests: new SlidingWindow(minuteMs, 1000),
        tokensMinute: new SlidingWindow(minuteMs, 1000),
        tokensDay: new SlidingWindow(dayMs, minuteMs),
      };
      this.#usage.set(agentId, usage);
    }
    return usage;
  }
}

function refusal(limit: "requests" | "tokens", message: string, waitMs: number): LimitRefusal {
  const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
  return { limit, message: `${message} Try again in ${retryAfterSeconds} s.`, retryAfterSeconds };
}

/**
 * Tokens in a usage object: `total_tokens` (OpenAI Chat Completions and Responses), else input
 * plus output (Anthropic, whose input excludes cache reads and writes, which are added).
 */
export function tokensOf(usage: unknown): number {
  if (!isRecord(usage)) return 0;
  if (typeof usage.total_tokens === "number") return Math.max(0, usage.total_tokens);
  let sum = 0;
  for (const field of [
    "input_tokens",
    "output_tokens",
    "prompt_tokens",
    "completion_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
  ]) {
    const value = usage[field];
    if (typeof value === "number" && Number.isFinite(value) && value > 0) sum += value;
  }
  return sum;
}
