import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { StoredEvent } from "../core/events.js";
import { createLogger } from "../core/logger.js";
import { WebhookNotifier } from "./webhook-notifier.js";

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

/** A local receiver answering each request with the next status (the last one repeats). */
async function receiver(statuses: number[]) {
  const received: { body: unknown; at: number }[] = [];
  const server = http.createServer((request, response) => {
    let text = "";
    request.on("data", (chunk: Buffer) => {
      text += chunk.toString();
    });
    request.on("end", () => {
      received.push({ body: JSON.parse(text), at: Date.now() });
      response.writeHead(statuses[Math.min(received.length - 1, statuses.length - 1)]!);
      response.end();
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

function event(type: string, data: Record<string, unknown>, agentId = "agent-1"): StoredEvent {
  return {
    id: "01J",
    seq: 7,
    time: "2026-01-01T00:00:00.000Z",
    traceId: "0".repeat(32),
    spanId: "0".repeat(16),
    agentId,
    sessionId: "s",
    type: type as StoredEvent["type"],
    data: data as never,
    prevHash: "",
    hash: "",
  };
}

const held = event("approval-request", {
  approvalId: "a1",
  callId: "a1",
  ruleId: "deploys",
  server: "files",
  tool: "deploy",
  arguments: {},
  expiresAt: "2026-01-01T00:05:00.000Z",
  approvers: { roles: ["reviewer"], count: 1 },
});
const logger = createLogger({ level: "silent" });

describe("webhooks", () => {
  it("post generic JSON and Slack-compatible payloads for selected events only", async () => {
    const json = await receiver([200]);
    const slack = await receiver([200]);
    const notifier = new WebhookNotifier({
      targets: [
        { url: json.url, format: "json" },
        { url: slack.url, format: "slack" },
      ],
      logger,
    });
    notifier.notify([held, event("tool-call", {})]);
    await notifier.idle();
    expect(json.received).toHaveLength(1);
    expect(json.received[0]!.body).toMatchObject({ type: "warden.approval-request", event: { seq: 7 } });
    expect(slack.received).toHaveLength(1);
    expect(Object.keys(slack.received[0]!.body as object)).toEqual(["text"]);
    expect((slack.received[0]!.body as { text: string }).text).toContain("files/deploy (rule deploys)");
  });

  it("retry failures with growing back-off until one succeeds", async () => {
    const hook = await receiver([500, 503, 200]);
    const notifier = new WebhookNotifier({
      targets: [{ url: hook.url, format: "json" }],
      logger,
      retryDelaysMs: [50, 200, 400],
    });
    notifier.notify([held]);
    await notifier.idle();
    expect(hook.received).toHaveLength(3);
    const gaps = [hook.received[1]!.at - hook.received[0]!.at, hook.received[2]!.at - hook.received[1]!.at];
    expect(gaps[0]).toBeGreaterThanOrEqual(45);
    expect(gaps[1]).toBeGreaterThanOrEqual(190);
  });

  it("give up after the last retry, and an unreachable receiver is not an error", async () => {
    const hook = await receiver([500]);
    const notifier = new WebhookNotifier({
      targets: [
        { url: hook.url, format: "json" },
        { url: "http://127.0.0.1:1/unreachable", format: "json" },
      ],
      logger,
      retryDelaysMs: [10, 10],
    });
    notifier.notify([held]);
    await notifier.idle();
    expect(hook.received).toHaveLength(3);
  });

  it("stop retrying at once when closed", async () => {
    const hook = await receiver([500]);
    const notifier = new WebhookNotifier({
      targets: [{ url: hook.url, format: "json" }],
      logger,
      retryDelaysMs: [60_000],
    });
    notifier.notify([held]);
    await new Promise<void>((resolve) => {
      const check = () => (hook.received.length > 0 ? resolve() : setTimeout(check, 5));
      check();
    });
    const started = Date.now();
    await notifier.close();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(hook.received).toHaveLength(1);
  });

  it("keep agent-written text out of Slack markup", async () => {
    const slack = await receiver([200]);
    const notifier = new WebhookNotifier({ targets: [{ url: slack.url, format: "slack" }], logger });
    notifier.notify([
      event("finding", { severity: "high", detector: "x", explanation: "<!channel> <http://evil|click>" }),
    ]);
    await notifier.idle();
    const text = (slack.received[0]!.body as { text: string }).text;
    expect(text).not.toContain("<!channel>");
    expect(text).not.toContain("<http://evil");
  });
});
