import { describe, expect, it } from "vitest";
import { createIdFactory, newSpanId, newTraceId } from "./ids.js";

describe("ids", () => {
  it("makes ULIDs that are valid, unique and in creation order, across pool refills", () => {
    const next = createIdFactory();
    const ids = Array.from({ length: 5000 }, () => next());
    for (const id of ids) expect(id).toMatch(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });

  it("makes trace and span ids of the W3C lengths that do not repeat", () => {
    const traces = Array.from({ length: 2000 }, newTraceId);
    const spans = Array.from({ length: 2000 }, newSpanId);
    for (const id of traces) expect(id).toMatch(/^[0-9a-f]{32}$/);
    for (const id of spans) expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(new Set(traces).size).toBe(traces.length);
    expect(new Set(spans).size).toBe(spans.length);
  });

  it("draws random characters evenly (no bias from the pooled source)", () => {
    const next = createIdFactory();
    const counts = new Map<string, number>();
    // The last character of a monotonic ULID in the same millisecond increments, so use
    // separate factories' first ids: their 16 random characters are fresh draws.
    for (let i = 0; i < 2000; i++) {
      const random = createIdFactory()().slice(10);
      for (const char of random) counts.set(char, (counts.get(char) ?? 0) + 1);
    }
    expect(next()).toHaveLength(26);
    expect(counts.size).toBe(32);
    const expected = (2000 * 16) / 32;
    for (const count of counts.values()) expect(Math.abs(count - expected)).toBeLessThan(expected * 0.25);
  });
});
