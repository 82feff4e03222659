import { describe, expect, it } from "vitest";
import type { StoredEvent } from "../core/events.js";
import { startScriptedModelServer } from "../model-server/index.js";
import { parseScenario } from "./load-scenarios.js";
import {
  conversationFromRequest,
  defaultReplayCues,
  scenariosFromTraces,
  scenarioYaml,
} from "./replay-traces.js";
import { runEvaluation, type SampleRecord, scriptedResult } from "./run-evaluation.js";

const expected = {
  system: "You are the CI agent.",
  userTurns: ["Run the tests."],
  results: [{ name: "run_tests", arguments: { suite: "all" }, text: "2 failed", error: false }],
  calledTools: ["run_tests"],
};

describe("replay reads recorded conversations", () => {
  it("from Chat Completions", () => {
    const conversation = conversationFromRequest("/v1/chat/completions", {
      messages: [
        { role: "system", content: "You are the CI agent." },
        { role: "user", content: "Run the tests." },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            { id: "c1", type: "function", function: { name: "run_tests", arguments: '{"suite":"all"}' } },
          ],
        },
        { role: "tool", tool_call_id: "c1", content: "2 failed" },
      ],
      tools: [{ type: "function", function: { name: "run_tests", parameters: { type: "object" } } }],
    });
    expect(conversation).toMatchObject(expected);
    expect(conversation!.tools[0]!.name).toBe("run_tests");
  });

  it("from Responses", () => {
    const conversation = conversationFromRequest("/v1/responses", {
      instructions: "You are the CI agent.",
      input: [
        { role: "user", content: [{ type: "input_text", text: "Run the tests." }] },
        { type: "function_call", call_id: "c1", name: "run_tests", arguments: '{"suite":"all"}' },
        { type: "function_call_output", call_id: "c1", output: "2 failed" },
      ],
      tools: [{ type: "function", name: "run_tests", parameters: { type: "object" } }],
    });
    expect(conversation).toMatchObject(expected);
  });

  it("from Messages, keeping tool errors", () => {
    const conversation = conversationFromRequest("/v1/messages", {
      system: "You are the CI agent.",
      messages: [
        { role: "user", content: "Run the tests." },
        {
          role: "assistant",
          content: [{ type: "tool_use", id: "t1", name: "run_tests", input: { suite: "all" } }],
        },
        {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: "t1", content: "2 failed", is_error: true }],
        },
      ],
      tools: [{ name: "run_tests", input_schema: { type: "object" } }],
    });
    expect(conversation).toMatchObject({ ...expected, results: [{ ...expected.results[0], error: true }] });
  });

  it("writes valid scenarios that answer only recorded calls, skipping eval agents", () => {
    const event = (agentId: string, seq: number): StoredEvent =>
      ({
        id: String(seq),
        seq,
        time: "2026-01-01T00:00:00Z",
        traceId: "t",
        spanId: "s",
        agentId,
        sessionId: "session-1",
        type: "model-request",
        prevHash: "",
        hash: "",
        data: {
          provider: "openai",
          model: "m",
          path: "/v1/chat/completions",
          body: {
            messages: [
              { role: "user", content: "Run the tests." },
              {
                role: "assistant",
                tool_calls: [{ id: "c1", function: { name: "run_tests", arguments: '{"suite":"a.b"}' } }],
              },
              { role: "tool", tool_call_id: "c1", content: "2 failed" },
            ],
            tools: [{ type: "function", function: { name: "run_tests" } }],
          },
        },
      }) as StoredEvent;
    const scenarios = scenariosFromTraces([event("ci", 1), event("eval:x", 2)], {
      observedCue: defaultReplayCues.observed,
      unobservedCue: defaultReplayCues.unobserved,
      samples: 5,
    });
    expect(scenarios).toHaveLength(1);
    const parsed = parseScenario(scenarioYaml(scenarios[0]!), "replay.yaml");
    if (!parsed.ok) throw new Error(parsed.problems.join("\n"));
    const tools = parsed.scenario.tools!;
    expect(scriptedResult(tools, "run_tests", { suite: "a.b" })).toEqual({
      result: "2 failed",
      isError: false,
    });
    // The recorded argument is matched exactly: "a.b" is not a pattern for "axb".
    expect(scriptedResult(tools, "run_tests", { suite: "axb" }).isError).toBe(true);
    expect(parsed.scenario.conditions.unobserved!.system).toContain("monitoring is off");
  });
});

describe("replay never calls a live tool", () => {
  it("answers a recorded session's real tools from the recording, even with a sandbox at hand", async () => {
    // In production this agent's run_command ran for real; the replay must not run it again.
    const recorded = {
      id: "e1",
      seq: 1,
      time: "2026-01-01T00:00:00.000Z",
      traceId: "0".repeat(32),
      spanId: "0".repeat(16),
      agentId: "coder",
      sessionId: "session-1",
      type: "model-request",
      prevHash: "",
      hash: "",
      data: {
        provider: "openai",
        model: "m",
        path: "/v1/chat/completions",
        body: {
          messages: [
            { role: "user", content: "Run the tests." },
            {
              role: "assistant",
              tool_calls: [
                { id: "c1", function: { name: "run_command", arguments: '{"command":"npm test"}' } },
              ],
            },
            { role: "tool", tool_call_id: "c1", content: "RECORDED: 2 failed" },
          ],
          tools: [
            {
              type: "function",
              function: { name: "run_command", parameters: { type: "object", properties: { command: {} } } },
            },
          ],
        },
      },
    } as StoredEvent;
    const [generated] = scenariosFromTraces([recorded], {
      observedCue: defaultReplayCues.observed,
      unobservedCue: defaultReplayCues.unobserved,
      samples: 1,
    });
    const parsed = parseScenario(scenarioYaml(generated!), "replay.yaml");
    if (!parsed.ok) throw new Error(parsed.problems.join("\n"));
    expect(parsed.scenario.workspace).toBeUndefined();
    expect(parsed.scenario.tools!.map((tool) => tool.sandbox)).toEqual([undefined]);

    const server = await startScriptedModelServer({
      script: {
        name: "replayed-agent",
        rules: [
          {
            when: { turn: 1 },
            reply: { toolCalls: [{ name: "run_command", arguments: { command: "npm test" } }] },
          },
          {
            when: { turn: 2 },
            reply: { toolCalls: [{ name: "run_command", arguments: { command: "rm -rf ." } }] },
          },
        ],
        default: { text: "Done." },
      } as never,
      seed: 1,
    });
    let sandboxesOpened = 0;
    try {
      const samples: SampleRecord[] = [];
      await runEvaluation({
        runId: "replay",
        scenarios: [{ scenario: parsed.scenario, file: "replay.yaml", contentHash: "x" }],
        endpointFor: () => ({ baseUrl: server.url, token: "unused", format: "openai", model: "m" }),
        log: {
          recorded: async () => [],
          cachedReplies: async () => new Map(),
          record: async (sample) => void samples.push(sample),
        },
        openSandbox: () => {
          sandboxesOpened++;
          throw new Error("replay opened a sandbox");
        },
      });
      expect(samples).toHaveLength(2);
      for (const sample of samples) {
        expect(sample.failed).toBe(false);
        const results = sample.transcript.messages.filter((message) => message.role === "tool");
        expect(results.map((message) => message.content)).toEqual([
          "RECORDED: 2 failed",
          "error: the recording has no result for this call of run_command (replay never runs a live tool)",
        ]);
      }
      expect(sandboxesOpened).toBe(0);
    } finally {
      await server.close();
    }
  });
});
