import type { ChildProcess } from "node:child_process";
import { Agent, OpenAIProvider, Runner, tool } from "@openai/agents";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  parseScript,
  type ScriptedModelServer,
  startScriptedModelServer,
} from "../src/model-server/index.js";
import {
  createAgentToken,
  createSandbox,
  readLog,
  runWarden,
  type Sandbox,
  startWardenUp,
  waitFor,
} from "./helpers/mcp-client.js";

// An agent built with the OpenAI Agents SDK, its model calls through Warden's gateway to the
// scripted model server (a test instrument standing in for a model).
const script = `name: agents-sdk-test
rules:
  - when: { lastUser: "look up the weather", afterToolResult: false }
    reply:
      toolCalls: [{ name: get_weather, arguments: { city: Oslo } }]
  - when: { lastUser: "look up the weather", afterToolResult: true }
    reply: { text: "The tool said it is sunny." }
  - when: { lastUser: "wire the money", afterToolResult: false }
    reply:
      toolCalls: [{ name: transfer_money, arguments: { to: "acct-77", amount: 5000 } }]
  - when: { lastUser: "wire the money", afterToolResult: true }
    reply: { text: "The transfer went through." }
  - when: { lastUser: "publish the post", afterToolResult: false }
    reply:
      toolCalls: [{ name: publish_post, arguments: { title: Launch } }]
  - when: { lastUser: "publish the post", afterToolResult: true }
    reply: { text: "Published." }
default: { text: "Nothing to do." }
`;

let sandbox: Sandbox;
let model: ScriptedModelServer;
let daemon: ChildProcess;
let baseUrl: string;
let token: string;

beforeAll(async () => {
  const parsed = parseScript(script, "agents-sdk-test.yaml");
  if (!parsed.ok) throw new Error(parsed.problems.join("\n"));
  model = await startScriptedModelServer({ script: parsed.script, port: 0 });
  sandbox = createSandbox(`version: 1
default: deny
rules:
  - id: weather-ok
    when: 'tool.name == "get_weather"'
    effect: allow
    rationale: Read-only lookup.
  - id: no-transfers
    when: 'tool.name == "transfer_money"'
    effect: deny
    rationale: Money movement is out of scope for this agent.
    message: You may not move money; tell the user a person must do it.
  - id: posts-reviewed
    when: 'tool.name == "publish_post"'
    effect: hold
    rationale: Public posts are reviewed.
    approvers: { count: 1 }
`);
  ({ daemon, baseUrl } = await startWardenUp(sandbox, ["--upstream", `openai=${model.url}`], {
    OPENAI_API_KEY: "sk-provider-key-abcdefghijklmnop",
  }));
  token = createAgentToken(sandbox.dataDir, "agents-sdk");
});

afterAll(async () => {
  daemon.kill("SIGTERM");
  await model.close();
  sandbox.cleanup();
});

function buildAgent(executed: string[]) {
  const getWeather = tool({
    name: "get_weather",
    description: "The weather in a city.",
    parameters: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      executed.push(`get_weather:${city}`);
      return `sunny in ${city}`;
    },
  });
  const transferMoney = tool({
    name: "transfer_money",
    description: "Moves money.",
    parameters: z.object({ to: z.string(), amount: z.number() }),
    execute: async ({ to }) => {
      executed.push(`transfer_money:${to}`);
      return "done";
    },
  });
  const publishPost = tool({
    name: "publish_post",
    description: "Publishes a post.",
    parameters: z.object({ title: z.string() }),
    execute: async ({ title }) => {
      executed.push(`publish_post:${title}`);
      return "published";
    },
  });
  return new Agent({
    name: "assistant",
    instructions: "You help with errands.",
    model: "gpt-test",
    tools: [getWeather, transferMoney, publishPost],
  });
}

function runner(useResponses: boolean, session: string): Runner {
  const client = new OpenAI({
    baseURL: `${baseUrl}/v1`,
    apiKey: token,
    defaultHeaders: { "x-warden-session": session },
  });
  return new Runner({
    modelProvider: new OpenAIProvider({ openAIClient: client, useResponses }),
    tracingDisabled: true,
  });
}

describe("an @openai/agents agent through the gateway", () => {
  for (const useResponses of [true, false]) {
    const api = useResponses ? "Responses" : "Chat Completions";

    it(`runs an allowed tool and finishes (${api})`, async () => {
      const executed: string[] = [];
      const session = `agents-allowed-${useResponses}`;
      const result = await runner(useResponses, session).run(buildAgent(executed), "look up the weather");
      expect(executed).toEqual(["get_weather:Oslo"]);
      expect(result.finalOutput).toBe("The tool said it is sunny.");
      const decisions = readLog(sandbox.dataDir, ["--session", session, "--type", "policy-decision"]);
      expect(
        decisions.map((event) => (event.data as { applied: { effect: string } }).applied.effect),
      ).toEqual(["allow"]);
    });

    it(`never executes a denied tool; the agent ends with the rule's message (${api})`, async () => {
      const executed: string[] = [];
      const session = `agents-denied-${useResponses}`;
      const result = await runner(useResponses, session).run(buildAgent(executed), "wire the money");
      expect(executed).toEqual([]);
      expect(String(result.finalOutput)).toContain('"no-transfers"');
      expect(String(result.finalOutput)).toContain("You may not move money");
      const responses = readLog(sandbox.dataDir, ["--session", session, "--type", "model-response"]);
      expect(responses.some((event) => JSON.stringify(event.data).includes('"verdict":"deny"'))).toBe(true);
    });
  }

  it("holds a tool call until a reviewer approves it, then the agent executes it", async () => {
    const executed: string[] = [];
    const session = "agents-held";
    const running = runner(true, session).run(buildAgent(executed), "publish the post");
    const held = await waitFor(() => {
      const listed = runWarden(["approvals", "list", "--data-dir", sandbox.dataDir, "--json"]);
      return listed.stdout.trim()
        ? (JSON.parse(listed.stdout.split("\n")[0]!) as { approvalId: string })
        : null;
    });
    expect(executed).toEqual([]);
    expect(runWarden(["approvals", "approve", held.approvalId, "--data-dir", sandbox.dataDir]).code).toBe(0);
    const result = await running;
    expect(executed).toEqual(["publish_post:Launch"]);
    expect(result.finalOutput).toBe("Published.");
  });
});
