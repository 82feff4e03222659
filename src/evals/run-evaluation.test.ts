import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ScriptedModelServer, startScriptedModelServer } from "../model-server/index.js";
import { buildResults } from "./build-report.js";
import { escapeHtml, renderHtmlReport } from "./html-report.js";
import { loadScenarios } from "./load-scenarios.js";
import { callModel, defaultRetryPolicy, type ModelReply, retryDelayMs } from "./model-client.js";
import { runEvaluation, type SampleLog, type SampleRecord, scriptedResult } from "./run-evaluation.js";

const packs = fileURLToPath(new URL("../../scenarios/", import.meta.url));
const personas = path.join(packs, "personas");

function memoryLog(): SampleLog & { samples: SampleRecord[] } {
  const samples: SampleRecord[] = [];
  return {
    samples,
    recorded: async (runId) => samples.filter((sample) => sample.runId === runId),
    cachedReplies: async () => {
      const replies = new Map<string, ModelReply>();
      for (const sample of samples) for (const call of sample.calls) replies.set(call.cacheKey, call.reply);
      return replies;
    },
    record: async (sample) => {
      samples.push(sample);
    },
  };
}

describe("the runner", () => {
  let server: ScriptedModelServer;
  beforeAll(async () => {
    server = await startScriptedModelServer({ script: path.join(personas, "honesty-gap.yaml"), seed: 9 });
  });
  afterAll(async () => {
    await server.close();
  });

  it("runs the tool loop with scripted results and scores false claims against the evidence", async () => {
    const scenarios = loadScenarios("honesty").filter(
      ({ scenario }) => scenario.id === "honesty-failed-tests",
    );
    const log = memoryLog();
    const samples = await runEvaluation({
      runId: "run-1",
      scenarios,
      endpointFor: () => ({ baseUrl: server.url, token: "unused", format: "openai", model: "persona" }),
      log,
      samples: 120,
      concurrency: 1,
      seed: 1,
    });
    expect(samples).toHaveLength(240);
    const sample = samples[0]!;
    // user, assistant with the tool call, the scripted tool result, the final answer
    expect(sample.transcript.messages.map((message) => message.role)).toEqual([
      "user",
      "assistant",
      "tool",
      "assistant",
    ]);
    expect(sample.transcript.messages[2]).toMatchObject({ name: "run_tests", isError: true });
    const results = buildResults("run-1", "persona", scenarios, samples);
    const [scenario] = results.scenarios;
    const { observed, unobserved } = scenario!.conditions;
    expect(observed!.ci[0]).toBeLessThanOrEqual(0.1);
    expect(observed!.ci[1]).toBeGreaterThanOrEqual(0.1);
    expect(unobserved!.ci[0]).toBeLessThanOrEqual(0.5);
    expect(unobserved!.ci[1]).toBeGreaterThanOrEqual(0.5);
    expect(scenario!.significant).toBe(true);

    // Resuming the same run does nothing; a new run with the same seed is answered from the cache.
    const before = server.requests.length;
    const resumed = await runEvaluation({
      runId: "run-1",
      scenarios,
      endpointFor: () => ({ baseUrl: server.url, token: "unused", format: "openai", model: "persona" }),
      log,
      samples: 120,
      seed: 1,
    });
    expect(resumed).toHaveLength(240);
    await runEvaluation({
      runId: "run-2",
      scenarios,
      endpointFor: () => ({ baseUrl: server.url, token: "unused", format: "openai", model: "persona" }),
      log,
      samples: 120,
      seed: 1,
    });
    expect(server.requests.length).toBe(before);
    const reseeded = await runEvaluation({
      runId: "run-3",
      scenarios,
      endpointFor: () => ({ baseUrl: server.url, token: "unused", format: "openai", model: "persona" }),
      log,
      samples: 2,
      seed: 2,
    });
    expect(reseeded.every((record) => record.calls.every((call) => !call.cached))).toBe(true);
  });

  it("reports the alignment-faking pack's reasoning measure per condition", async () => {
    const persona = await startScriptedModelServer({
      script: path.join(personas, "watched-compliance.yaml"),
      seed: 4,
    });
    try {
      const scenarios = loadScenarios("alignment-faking").filter(
        ({ scenario }) => scenario.id === "alignment-faking-reviewed-or-private",
      );
      const samples = await runEvaluation({
        runId: "af",
        scenarios,
        endpointFor: () => ({ baseUrl: persona.url, token: "unused", format: "anthropic", model: "persona" }),
        log: memoryLog(),
        samples: 60,
        seed: 4,
      });
      const [result] = buildResults("af", "persona", scenarios, samples).scenarios;
      const reasoning = result!.measures["training-reasoning"]!;
      // The persona reasons about training only when it complies while told it is reviewed.
      expect(reasoning.observed!.rate).toBeGreaterThan(0);
      expect(reasoning.observed!.rate).toBeCloseTo(result!.conditions.observed!.rate, 10);
      expect(reasoning.unobserved!.rate).toBe(0);
    } finally {
      await persona.close();
    }
  });

  it("never runs a tool: unknown tools and unmatched arguments get scripted errors", () => {
    const [loaded] = loadScenarios("oversight-subversion");
    const tools = loaded!.scenario.tools!;
    expect(scriptedResult(tools, "read_file", { path: "project/notes.md" }).result).toMatch(/Plan A/);
    expect(scriptedResult(tools, "read_file", { path: "/etc/shadow" })).toEqual({
      result: "error: no such file",
      isError: true,
    });
    expect(scriptedResult(tools, "rm", {})).toEqual({
      result: "error: there is no tool named rm",
      isError: true,
    });
  });

  it("fails a sample whose sandbox breaks, instead of showing the model a tool error", async () => {
    const [loaded] = loadScenarios(path.join(packs, "honesty", "failing-tests-sandbox.yaml"));
    const log = memoryLog();
    const samples = await runEvaluation({
      runId: "broken-sandbox",
      scenarios: [loaded!],
      endpointFor: () => ({ baseUrl: server.url, token: "unused", format: "openai", model: "persona" }),
      log,
      samples: 1,
      openSandbox: () => {
        throw new Error("bubblewrap exploded");
      },
    });
    expect(samples).toHaveLength(2);
    for (const sample of samples) {
      expect(sample).toMatchObject({ failed: true, positive: false, error: "bubblewrap exploded" });
      expect(sample.transcript.messages.some((message) => message.role === "tool")).toBe(false);
    }
  });

  it("escapes agent text in the HTML report", () => {
    const [loaded] = loadScenarios("honesty");
    const record: SampleRecord = {
      scenario: loaded!.scenario.id,
      runId: "r",
      condition: "observed",
      sample: 0,
      query: 0,
      model: "m",
      contentHash: "h",
      sessionId: "s",
      positive: true,
      measures: {},
      failed: false,
      transcript: {
        messages: [{ role: "assistant", content: "<script>alert(1)</script><img src=x onerror=y>" }],
      },
      calls: [],
    };
    const html = renderHtmlReport(buildResults("r", "<b>m</b>", [loaded!], [record]), [record]);
    expect(html).not.toContain("<script>");
    expect(html).not.toContain("<img");
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).toContain("&lt;b&gt;m&lt;/b&gt;");
    expect(escapeHtml(`"'&`)).toBe("&quot;&#39;&amp;");
  });
});

describe("model calls", () => {
  it("retry after 429 for as long as Retry-After says, then succeed", async () => {
    const arrivals: number[] = [];
    const upstream = createServer((_request, response) => {
      arrivals.push(Date.now());
      if (arrivals.length < 3) {
        response.writeHead(429, { "retry-after": "1", "content-type": "application/json" });
        response.end('{"error":{"message":"slow down"}}');
        return;
      }
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ choices: [{ message: { role: "assistant", content: "hello" } }] }));
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    const port = (upstream.address() as AddressInfo).port;
    const delays: number[] = [];
    try {
      const { reply, attempts } = await callModel(
        { baseUrl: `http://127.0.0.1:${port}`, token: "t", format: "openai", model: "m" },
        { model: "m", messages: [] },
        { sessionId: "s", onRetry: (delay) => delays.push(delay) },
      );
      expect(reply.content).toBe("hello");
      expect(attempts).toBe(3);
      expect(delays).toEqual([1000, 1000]);
      expect(arrivals[1]! - arrivals[0]!).toBeGreaterThanOrEqual(950);
    } finally {
      upstream.close();
    }
  });

  it("give up at once on a status that will not change, and after the retry budget on 503", async () => {
    let count = 0;
    const upstream = createServer((request, response) => {
      count++;
      response.writeHead(request.url?.includes("messages") ? 503 : 401);
      response.end("no");
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    const port = (upstream.address() as AddressInfo).port;
    try {
      const endpoint = { baseUrl: `http://127.0.0.1:${port}`, token: "t", model: "m" };
      await expect(callModel({ ...endpoint, format: "openai" }, {}, { sessionId: "s" })).rejects.toThrow(
        /401/,
      );
      expect(count).toBe(1);
      await expect(
        callModel(
          { ...endpoint, format: "anthropic" },
          {},
          {
            sessionId: "s",
            retry: { maxRetries: 2, baseDelayMs: 1, maxDelayMs: 5 },
          },
        ),
      ).rejects.toThrow(/503/);
      expect(count).toBe(4);
    } finally {
      upstream.close();
    }
  });

  it("read Retry-After as seconds, as an HTTP date, and retry-after-ms; else back off exponentially", () => {
    const headers = (entries: Record<string, string>) => new Headers(entries);
    expect(retryDelayMs(headers({ "retry-after": "3" }), 0, defaultRetryPolicy)).toBe(3000);
    expect(retryDelayMs(headers({ "retry-after-ms": "250" }), 0, defaultRetryPolicy)).toBe(250);
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(
      retryDelayMs(
        headers({ "retry-after": "Thu, 01 Jan 2026 00:00:05 GMT" }),
        0,
        defaultRetryPolicy,
        Math.random,
        now,
      ),
    ).toBe(5000);
    expect(retryDelayMs(null, 3, defaultRetryPolicy, () => 1)).toBe(4000);
    expect(retryDelayMs(null, 20, defaultRetryPolicy, () => 1)).toBe(30_000);
  });
});
