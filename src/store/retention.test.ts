import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { configSchema } from "../core/config.js";
import { createLogger } from "../core/logger.js";
import { Checkpointer } from "./checkpointer.js";
import { sampleToolCall } from "./event-store-conformance.js";
import { applyRetention } from "./retention.js";
import { loadOrCreateKeys } from "./signing-keys.js";
import { iterateRows, SqliteEventStore } from "./sqlite/sqlite-event-store.js";
import { verifyLog } from "./verify-log.js";

const logger = createLogger({ name: "retention-test", level: "silent" });
const day = 86_400_000;
const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

/** A store whose clock the test moves: 300 days ago, 250 days ago, then now. */
async function agedStore() {
  const directory = mkdtempSync(path.join(tmpdir(), "warden-retention-"));
  directories.push(directory);
  const file = path.join(directory, "events.sqlite");
  const now = new Date("2026-12-01T12:00:00Z");
  let clock = new Date(now.getTime() - 300 * day);
  const store = new SqliteEventStore({ file, now: () => clock });
  const keys = loadOrCreateKeys(directory);
  const checkpointer = new Checkpointer({ store, keys, logger, everyEvents: 1_000_000 });
  for (let index = 0; index < 10; index++) await store.append(sampleToolCall(index));
  await checkpointer.checkpoint(); // seq 11
  for (let index = 10; index < 15; index++) await store.append(sampleToolCall(index));
  clock = new Date(now.getTime() - 250 * day);
  await checkpointer.checkpoint(); // seq 17
  clock = now;
  for (let index = 15; index < 20; index++) await store.append(sampleToolCall(index));
  await checkpointer.checkpoint();
  return { store, file, keys, now };
}

function verifyFile(file: string, publicKey: ReturnType<typeof loadOrCreateKeys>["publicKey"]) {
  const database = new Database(file, { readonly: true });
  try {
    return verifyLog(iterateRows(database), { publicKey, witness: null });
  } finally {
    database.close();
  }
}

describe("retention", () => {
  it("removes events older than the period up to a checkpoint, and the rest still verifies", async () => {
    const { store, file, keys, now } = await agedStore();
    const outcome = await applyRetention({ store, days: 183, logger, now });
    expect(outcome).toEqual({ removedThroughSeq: 16, removedEvents: 16 });
    const events = await store.read({ limit: 100 });
    expect(events[0]).toMatchObject({ seq: 17, type: "checkpoint" });
    expect(events.at(-1)).toMatchObject({ type: "retention-prune", data: { removedThroughSeq: 16 } });
    await store.close();
    const report = verifyFile(file, keys.publicKey);
    expect(report.problems).toEqual([]);
    expect(report.startsAt).toBe(17);
    // Nothing is older than the period any more: a second run removes nothing.
    const reopened = new SqliteEventStore({ file });
    expect(await applyRetention({ store: reopened, days: 183, logger, now })).toBeNull();
    await reopened.close();
  });

  it("keeps everything while nothing is older than the period", async () => {
    const { store, now } = await agedStore();
    expect(await applyRetention({ store, days: 400, logger, now })).toBeNull();
    expect(await store.read({ limit: 100 })).toHaveLength(23);
    await store.close();
  });

  it("catches old events removed without a retention record, even up to a checkpoint", async () => {
    const { store, file, keys } = await agedStore();
    await store.close();
    const database = new Database(file);
    database.exec("DROP TRIGGER events_no_delete");
    database.prepare("DELETE FROM events WHERE seq < 17").run();
    database.close();
    const report = verifyFile(file, keys.publicKey);
    expect(report.ok).toBe(false);
    expect(report.problems[0]).toMatchObject({ seq: 1, kind: "missing" });
    expect(report.problems[0]!.message).toMatch(/no retention-prune event/);
  });

  it("catches more removed than the retention record names", async () => {
    const { store, file, keys, now } = await agedStore();
    await applyRetention({ store, days: 183, logger, now });
    await store.close();
    const database = new Database(file);
    database.exec("DROP TRIGGER events_no_delete");
    // Up to the next checkpoint (seq 23), so the log still starts at a signed anchor.
    database.prepare("DELETE FROM events WHERE seq < 23").run();
    database.close();
    const report = verifyFile(file, keys.publicKey);
    expect(report.ok).toBe(false);
    expect(report.startsAt).toBe(23);
    expect(report.problems[0]!.message).toMatch(/events 1\.\.22 are missing/);
  });

  it("refuses a retention period shorter than six months", () => {
    expect(configSchema.safeParse({ version: 1, retention: { days: 30 } }).success).toBe(false);
    expect(configSchema.parse({ version: 1 }).retention.days).toBe(183);
  });
});
