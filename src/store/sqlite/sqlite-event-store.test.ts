import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { runEventStoreConformance, sampleToolCall } from "../event-store-conformance.js";
import { SqliteEventStore } from "./sqlite-event-store.js";

function temporaryStoreFile(): { file: string; cleanup: () => Promise<void> } {
  const directory = mkdtempSync(path.join(tmpdir(), "warden-store-"));
  return {
    file: path.join(directory, "events.sqlite"),
    cleanup: async () => rmSync(directory, { recursive: true, force: true }),
  };
}

runEventStoreConformance({
  name: "sqlite",
  async create() {
    const { file, cleanup } = temporaryStoreFile();
    let store = new SqliteEventStore({ file });
    return {
      store,
      async reopen() {
        await store.close();
        store = new SqliteEventStore({ file });
        return store;
      },
      cleanup,
    };
  },
});

describe("SqliteEventStore", () => {
  it("refuses UPDATE and DELETE on the events table", async () => {
    const { file, cleanup } = temporaryStoreFile();
    const store = new SqliteEventStore({ file });
    await store.append(sampleToolCall(1));
    await store.close();
    const database = new Database(file);
    expect(() => database.prepare("UPDATE events SET body = 'x'").run()).toThrow(/append-only/);
    expect(() => database.prepare("DELETE FROM events").run()).toThrow(/append-only/);
    database.close();
    await cleanup();
  });

  it("shares one commit among appends issued together (group commit)", async () => {
    const { file, cleanup } = temporaryStoreFile();
    const store = new SqliteEventStore({ file });
    const database = new Database(file, { readonly: true });
    const pending = Array.from({ length: 50 }, (_, index) => store.append(sampleToolCall(index)));
    // Nothing is on disk until the commit, which happens after this turn of the event loop.
    expect((database.prepare("SELECT count(*) AS n FROM events").get() as { n: number }).n).toBe(0);
    await Promise.all(pending);
    expect((database.prepare("SELECT count(*) AS n FROM events").get() as { n: number }).n).toBe(50);
    database.close();
    await store.close();
    await cleanup();
  });

  it("fails closed once a commit fails: later appends are refused", async () => {
    const { file, cleanup } = temporaryStoreFile();
    const store = new SqliteEventStore({ file });
    await store.append(sampleToolCall(1));
    // Another writer takes the seq the store will use next, so its commit must fail.
    const intruder = new Database(file);
    intruder
      .prepare(
        "INSERT INTO events (seq, id, time, type, agent_id, session_id, trace_id, hash, body) VALUES (2, 'x', 't', 'tool-call', 'a', 's', 't', 'h', '{}')",
      )
      .run();
    intruder.close();
    await expect(store.append(sampleToolCall(2))).rejects.toThrow(/failed to commit/);
    await expect(store.append(sampleToolCall(3))).rejects.toThrow(/failed to commit/);
    await cleanup();
  });

  it("replaces secrets with keyed fingerprints before the event is hashed", async () => {
    const { file, cleanup } = temporaryStoreFile();
    const { createSecretRedactor } = await import("../redact-secrets.js");
    const store = new SqliteEventStore({ file, redact: createSecretRedactor(Buffer.alloc(32, 7)) });
    const key = "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789";
    const event = await store.append({
      ...sampleToolCall(1),
      data: {
        ...sampleToolCall(1).data,
        arguments: { apiKey: "hunter2-long-secret", note: `use ${key} please`, again: key },
      },
    });
    const text = JSON.stringify(event.data);
    expect(text).not.toContain("hunter2");
    expect(text).not.toContain(key);
    const args = (event.data as { arguments: Record<string, string> }).arguments;
    expect(args.note).toMatch(/^use secret:[0-9a-f]{16} please$/);
    expect(args.again).toBe(args.note!.slice(4, 4 + 23));
    await store.close();
    await cleanup();
  });
});
