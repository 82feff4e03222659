import { describe, expect, it } from "vitest";
import { AgentTrafficLimits, tokensOf } from "./agent-limits.js";

function clock(start = Date.parse("2026-01-01T00:00:00.000Z")) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe("per-agent traffic limits", () => {
  it("limits nothing when no limit is configured for the agent", () => {
    const limits = new AgentTrafficLimits({ agents: { other: { requestsPerMinute: 1 } } });
    for (let index = 0; index < 1000; index++) expect(limits.admit("free")).toBeNull();
  });

  it("counts the traffic of agents without limits too, for rules reading agent.usage", () => {
    const time = clock();
    const limits = new AgentTrafficLimits({ agents: {} }, time.now);
    expect(limits.usageOf("free")).toEqual({ requestsLastMinute: 0, tokensLastMinute: 0, tokensLastDay: 0 });
    limits.admit("free");
    limits.admit("free");
    limits.charge("free", { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120 });
    expect(limits.usageOf("free")).toEqual({
      requestsLastMinute: 2,
      tokensLastMinute: 120,
      tokensLastDay: 120,
    });
    time.advance(2 * 60_000);
    expect(limits.usageOf("free")).toEqual({
      requestsLastMinute: 0,
      tokensLastMinute: 0,
      tokensLastDay: 120,
    });
    expect(limits.usageOf("other").requestsLastMinute).toBe(0);
  });

  it("refuses requests over the per-minute rate until the oldest leave the 60-second window", () => {
    const time = clock();
    const limits = new AgentTrafficLimits({ default: { requestsPerMinute: 2 }, agents: {} }, time.now);
    expect(limits.admit("a")).toBeNull();
    time.advance(30_000);
    expect(limits.admit("a")).toBeNull();
    const refused = limits.admit("a");
    expect(refused).toMatchObject({ limit: "requests" });
    expect(refused?.retryAfterSeconds).toBeGreaterThanOrEqual(30);
    expect(refused?.retryAfterSeconds).toBeLessThanOrEqual(32);
    time.advance(31_000);
    expect(limits.admit("a")).toBeNull();
    expect(limits.admit("a")).toMatchObject({ limit: "requests" });
  });

  it("counts each agent separately and lets an agent's own entry replace the default", () => {
    const limits = new AgentTrafficLimits({
      default: { requestsPerMinute: 1 },
      agents: { busy: { requestsPerMinute: 3 } },
    });
    expect(limits.admit("a")).toBeNull();
    expect(limits.admit("b")).toBeNull();
    expect(limits.admit("a")).not.toBeNull();
    for (let index = 0; index < 3; index++) expect(limits.admit("busy")).toBeNull();
    expect(limits.admit("busy")).not.toBeNull();
  });

  it("refuses once the tokens charged from responses reach the per-minute budget", () => {
    const time = clock();
    const limits = new AgentTrafficLimits({ default: { tokensPerMinute: 100 }, agents: {} }, time.now);
    expect(limits.admit("a")).toBeNull();
    limits.charge("a", { prompt_tokens: 60, completion_tokens: 30, total_tokens: 90 });
    expect(limits.admit("a")).toBeNull();
    limits.charge("a", { input_tokens: 5, output_tokens: 10 });
    expect(limits.admit("a")).toMatchObject({ limit: "tokens" });
    time.advance(62_000);
    expect(limits.admit("a")).toBeNull();
  });

  it("keeps a daily budget over 24 hours", () => {
    const time = clock();
    const limits = new AgentTrafficLimits({ default: { tokensPerDay: 1000 }, agents: {} }, time.now);
    limits.charge("a", { total_tokens: 1000 });
    time.advance(12 * 3600_000);
    const refused = limits.admit("a");
    expect(refused?.message).toContain("1000 tokens per day");
    expect(refused?.retryAfterSeconds).toBeGreaterThan(11 * 3600);
    time.advance(12 * 3600_000 + 61_000);
    expect(limits.admit("a")).toBeNull();
  });
});

describe("tokens in a response's usage", () => {
  it("reads OpenAI's total and adds up Anthropic's input, output and cache tokens", () => {
    expect(tokensOf({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 })).toBe(7);
    expect(tokensOf({ input_tokens: 3, output_tokens: 4, total_tokens: 7 })).toBe(7);
    expect(
      tokensOf({
        input_tokens: 3,
        output_tokens: 4,
        cache_read_input_tokens: 10,
        cache_creation_input_tokens: 1,
      }),
    ).toBe(18);
  });

  it("counts nothing for usage that is missing or malformed", () => {
    expect(tokensOf(null)).toBe(0);
    expect(tokensOf("lots")).toBe(0);
    expect(tokensOf({ input_tokens: -5, output_tokens: "9" })).toBe(0);
  });
});
