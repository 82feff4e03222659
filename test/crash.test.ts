import { randomInt } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { dataFiles } from "../src/core/data-dir.js";
import type { StoredEvent } from "../src/core/events.js";
import { newSpanId, newTraceId } from "../src/core/ids.js";
import { DaemonClient } from "../src/server/daemon-client.js";
import { openReadOnly, readEvents } from "../src/store/sqlite/sqlite-event-store.js";
import { TemporaryDirectories } from "./helpers/temporary-directories.js";
import {
  allowAllConstitution,
  killAllDaemonProcesses,
  runWarden,
  sleep,
  startDaemonProcess,
  waitUntil,
} from "./helpers/warden-binary.js";

const rounds = 5;
const callers = 16;

const directories = new TemporaryDirectories();
afterAll(async () => {
  await killAllDaemonProcesses();
  directories.removeAll();
});

function readWholeLog(storeFile: string): StoredEvent[] {
  const database = openReadOnly(storeFile);
  try {
    const events: StoredEvent[] = [];
    for (;;) {
      const page = readEvents(database, { afterSeq: events.at(-1)?.seq ?? 0, limit: 5000 });
      if (page.length === 0) return events;
      events.push(...page);
    }
  } finally {
    database.close();
  }
}

function callIdsOf(events: StoredEvent[], type: "tool-call" | "policy-decision"): Set<string> {
  return new Set(
    events.filter((event) => event.type === type).map((event) => (event.data as { callId: string }).callId),
  );
}

describe("the daemon killed with SIGKILL", () => {
  it("keeps every acknowledged tool call and its decision, gap-free and verifiable, across repeated kills", async () => {
    const root = directories.create("warden-crash-");
    const dataDir = path.join(root, "state");
    const policyPath = path.join(root, "constitution.yaml");
    writeFileSync(policyPath, allowAllConstitution);
    // Where each round is killed: after this many acknowledged calls, plus a little more time.
    const plan = Array.from({ length: rounds }, () => ({
      acknowledgedBeforeKill: 100 + randomInt(1500),
      extraMilliseconds: randomInt(20),
    }));
    const context = `plan ${JSON.stringify(plan)}`;
    const acknowledged = new Set<string>();

    for (const [round, step] of plan.entries()) {
      const daemon = await startDaemonProcess({
        dataDir,
        policyPath,
        logFile: path.join(root, `daemon-${round}.log`),
      });
      let acknowledgedThisRound = 0;
      let killed = false;
      const clients = Array.from(
        { length: callers },
        () => new DaemonClient({ socketPath: daemon.socketPath, role: "agent" }),
      );
      const loops = clients.map(async (client, caller) => {
        const identity = {
          agentId: `agent-${caller}`,
          sessionId: `round-${round}-caller-${caller}`,
          traceId: newTraceId(),
        };
        for (let call = 0; !killed; call++) {
          try {
            const verdict = await client.decideToolCall({
              ...identity,
              spanId: newSpanId(),
              via: "mcp",
              method: "tools/call",
              server: "files",
              tool: "read_file",
              arguments: { path: `/work/${round}/${caller}/${call}.txt` },
            });
            acknowledged.add(verdict.callId);
            acknowledgedThisRound++;
          } catch {
            // The daemon is gone: this call was never acknowledged.
            return;
          }
        }
      });
      await waitUntil(() => acknowledgedThisRound >= step.acknowledgedBeforeKill || daemon.hasExited());
      await sleep(step.extraMilliseconds);
      const exit = await daemon.kill("SIGKILL");
      killed = true;
      await Promise.all(loops);
      for (const client of clients) client.close();
      // The daemon did not stop by itself before the kill, and it left its lock behind.
      expect(exit, context).toEqual({ code: null, signal: "SIGKILL" });
      expect(acknowledgedThisRound, context).toBeGreaterThanOrEqual(step.acknowledgedBeforeKill);
      expect(existsSync(path.join(dataDir, dataFiles.pid)), "stale pid file").toBe(true);
    }

    // Read what the last kill left, without a daemon tidying up first.
    const events = readWholeLog(path.join(dataDir, dataFiles.store));
    const firstGap = events.findIndex((event, index) => event.seq !== index + 1);
    expect(firstGap, `${context}: seq ${events[firstGap]?.seq} at position ${firstGap + 1}`).toBe(-1);
    const calls = callIdsOf(events, "tool-call");
    const decisions = callIdsOf(events, "policy-decision");
    const lost = [...acknowledged].filter((callId) => !calls.has(callId) || !decisions.has(callId));
    expect(lost, `${context}: acknowledged but not durable`).toEqual([]);
    // A call and its decision share one commit, so a crash never keeps one without the other.
    expect([...calls].filter((callId) => !decisions.has(callId))).toEqual([]);
    expect([...decisions].filter((callId) => !calls.has(callId))).toEqual([]);

    const verified = runWarden(["verify", "--data-dir", dataDir]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(new RegExp(`^intact: ${events.length} events`));
    // Five rounds of start, load and SIGKILL: minutes, not seconds, on a loaded machine.
  }, 180_000);
});
