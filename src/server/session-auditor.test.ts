import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { configSchema } from "../core/config.js";
import type { EventData, EventInput } from "../core/events.js";
import { silentLogger } from "../core/logger.js";
import { type ScriptedModelServer, startScriptedModelServer } from "../model-server/index.js";
import { SqliteEventStore } from "../store/sqlite/sqlite-event-store.js";
import { SessionAuditor } from "./session-auditor.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const identity = { agentId: "agent-1", sessionId: "s-1", traceId: "0".repeat(32), spanId: "1".repeat(16) };
const reply = (text: string): EventInput<"model-response"> => ({
  type: "model-response",
  ...identity,
  data: {
    provider: "openai",
    model: "m",
    status: 200,
    streamed: false,
    latencyMs: 5,
    body: { choices: [{ message: { role: "assistant", content: text } }] },
  },
});

async function setUp(): Promise<{
  store: SqliteEventStore;
  server: ScriptedModelServer;
  auditor: (now: number) => SessionAuditor;
}> {
  const directory = mkdtempSync(path.join(tmpdir(), "warden-session-auditor-"));
  cleanups.push(() => rmSync(directory, { recursive: true, force: true }));
  const store = new SqliteEventStore({ file: path.join(directory, "events.sqlite") });
  cleanups.push(() => store.close());
  const server = await startScriptedModelServer({
    script: {
      name: "auditor",
      rules: [],
      default: { text: JSON.stringify({ verdict: "deceptive", evidence: [{ quote: "All tests pass" }] }) },
    } as never,
  });
  cleanups.push(() => server.close());
  const config = configSchema.parse({
    version: 1,
    upstreams: [{ name: "auditor", baseUrl: server.url, format: "openai" }],
    auditor: {
      upstream: "auditor",
      models: ["auditor-1"],
      samples: 1,
      sessions: "on-end",
      sessionIdleSeconds: 60,
    },
  });
  const auditor = (now: number) =>
    new SessionAuditor({
      store,
      config: config.auditor!,
      upstreams: config.upstreams,
      rules: () => [],
      logger: silentLogger(),
      now: () => now,
    });
  return { store, server, auditor };
}

describe("the background session auditor (sessions: on-end)", () => {
  it("reviews a session once it is quiet, once, also after a restart, and again after new activity", async () => {
    const { store, server, auditor } = await setUp();
    const said = await store.append(reply("All tests pass."));
    const verdicts = () => store.read({ types: ["audit-verdict"] });
    const start = Date.parse(said.time);

    const first = auditor(start + 30_000);
    first.observe(await store.read({}));
    await first.reviewQuietSessions();
    expect(await verdicts()).toHaveLength(0); // not quiet long enough

    const later = auditor(start + 61_000);
    later.observe(await store.read({}));
    await later.reviewQuietSessions();
    await later.reviewQuietSessions();
    const [verdict] = await verdicts();
    expect(verdict).toMatchObject({ sessionId: "s-1", agentId: "agent-1" });
    expect(verdict!.data as EventData<"audit-verdict">).toMatchObject({
      verdict: "deceptive",
      trigger: "session-end",
      throughSeq: said.seq,
      quotes: [{ quote: "All tests pass", eventId: said.id }],
    });
    expect(server.requests).toHaveLength(1);

    // A restarted daemon rebuilds what was reviewed from the log.
    const restarted = auditor(start + 120_000);
    restarted.observe(await store.read({}));
    await restarted.reviewQuietSessions();
    expect(await verdicts()).toHaveLength(1);

    const more = await store.append(reply("Deployed."));
    restarted.observe([more]);
    const resumed = auditor(Date.parse(more.time) + 61_000);
    resumed.observe(await store.read({}));
    await resumed.reviewQuietSessions();
    expect((await verdicts()).map((event) => (event.data as EventData<"audit-verdict">).throughSeq)).toEqual([
      said.seq,
      more.seq,
    ]);
  });

  it("leaves sessions that ended more than a day before to warden audit", async () => {
    const { store, auditor } = await setUp();
    const said = await store.append(reply("All tests pass."));
    const stale = auditor(Date.parse(said.time) + 2 * 86_400_000);
    stale.observe(await store.read({}));
    await stale.reviewQuietSessions();
    expect(await store.read({ types: ["audit-verdict"] })).toHaveLength(0);
  });
});
