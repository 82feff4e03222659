import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { createTemporaryDatabase, skipPostgres } from "../../../test/helpers/postgres.js";
import { createLogger } from "../../core/logger.js";
import { Checkpointer } from "../checkpointer.js";
import { runEventStoreConformance, sampleToolCall } from "../event-store-conformance.js";
import { applyRetention } from "../retention.js";
import { loadOrCreateKeys } from "../signing-keys.js";
import { verifyLog } from "../verify-log.js";
import { PostgresEventStore, redactUrl } from "./postgres-event-store.js";

describe.skipIf(skipPostgres)("PostgreSQL store", () => {
  runEventStoreConformance({
    name: "postgres",
    async create() {
      const database = await createTemporaryDatabase();
      let store = await PostgresEventStore.open({ url: database.url });
      return {
        store,
        async reopen() {
          await store.close();
          store = await PostgresEventStore.open({ url: database.url });
          return store;
        },
        cleanup: async () => {
          await store.close();
          await database.drop();
        },
      };
    },
  });

  it("stores agent-written separators, quotes and control characters exactly as appended", async () => {
    const database = await createTemporaryDatabase();
    const store = await PostgresEventStore.open({ url: database.url });
    try {
      const awkward = 'a\u001eb\u001e\u001e"c\\d\n\t{},NULL\u0000e\u{1F600}';
      const appended = await Promise.all(
        Array.from({ length: 50 }, (_, index) =>
          store.append({
            ...sampleToolCall(index),
            agentId: index % 2 === 0 ? `agent\u001e${index}` : "agent,{x}",
            sessionId: `session "${index}" \u001e`,
            data: { ...sampleToolCall(index).data, arguments: { text: awkward, [awkward]: index } },
          }),
        ),
      );
      const read = await store.read({ limit: 100 });
      expect(read).toEqual(appended);
      expect(read.filter((event) => event.agentId === "agent,{x}")).toHaveLength(25);
      expect(verifyLog(await store.rowsOfChain("main"), { publicKey: null, witness: null }).problems).toEqual(
        [],
      );
    } finally {
      await store.close();
      await database.drop();
    }
  });

  it("lets replicas write their own chains side by side, each one verifiable", async () => {
    const database = await createTemporaryDatabase();
    const a = await PostgresEventStore.open({ url: database.url, chain: "replica-a" });
    const b = await PostgresEventStore.open({ url: database.url, chain: "replica-b" });
    try {
      await Promise.all(
        Array.from({ length: 200 }, (_, index) => (index % 2 === 0 ? a : b).append(sampleToolCall(index))),
      );
      expect((await a.read({ limit: 1000 })).map((event) => event.seq)).toEqual(
        Array.from({ length: 100 }, (_, index) => index + 1),
      );
      const heads = await a.chainHeads();
      expect(heads.map((head) => [head.chain, head.seq])).toEqual([
        ["replica-a", 100],
        ["replica-b", 100],
      ]);
      expect(await a.readAllChains({ limit: 1000 })).toHaveLength(200);
      for (const chain of ["replica-a", "replica-b"]) {
        const report = verifyLog(await a.rowsOfChain(chain), { publicKey: null, witness: null });
        expect(report.problems).toEqual([]);
        expect(report.events).toBe(100);
      }
    } finally {
      await a.close();
      await b.close();
      await database.drop();
    }
  });

  it("refuses a second writer on the same chain, and lets it in once the first has closed", async () => {
    const database = await createTemporaryDatabase();
    const first = await PostgresEventStore.open({ url: database.url, chain: "main" });
    try {
      await expect(PostgresEventStore.open({ url: database.url, chain: "main" })).rejects.toThrow(
        /being written by another Warden replica/,
      );
      await first.append(sampleToolCall(1));
      await first.close();
      const second = await PostgresEventStore.open({ url: database.url, chain: "main" });
      expect((await second.append(sampleToolCall(2))).seq).toBe(2);
      await second.close();
    } finally {
      await first.close();
      await database.drop();
    }
  });

  it("refuses UPDATE, DELETE and TRUNCATE of events, and verify finds an edit made behind the triggers", async () => {
    const database = await createTemporaryDatabase();
    const store = await PostgresEventStore.open({ url: database.url });
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      for (let index = 1; index <= 5; index++) await store.append(sampleToolCall(index));
      await expect(client.query("UPDATE warden_events SET body = '{}' WHERE seq = 2")).rejects.toThrow(
        /append-only/,
      );
      await expect(client.query("DELETE FROM warden_events WHERE seq = 2")).rejects.toThrow(/append-only/);
      await expect(client.query("TRUNCATE warden_events")).rejects.toThrow(/append-only/);
      // An owner can switch the triggers off; the hash chain still shows the edit.
      await client.query("ALTER TABLE warden_events DISABLE TRIGGER warden_events_no_update");
      await client.query(
        "UPDATE warden_events SET body = replace(body, '/tmp/3', '/etc/shadow') WHERE seq = 3",
      );
      const report = verifyLog(await store.rowsOfChain("main"), { publicKey: null, witness: null });
      expect(report.ok).toBe(false);
      expect(report.problems[0]).toMatchObject({ seq: 3, kind: "edited" });
    } finally {
      await client.end();
      await store.close();
      await database.drop();
    }
  });

  it("names the server but not the password when it cannot connect", async () => {
    const url = "postgres://warden:hunter2@127.0.0.1:1/nowhere";
    const failure = await PostgresEventStore.open({ url }).catch((error: Error) => error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toMatch(
      /cannot connect to PostgreSQL at postgres:\/\/warden:\*\*\*@127\.0\.0\.1:1/,
    );
    expect((failure as Error).message).not.toContain("hunter2");
    expect(redactUrl("not a url")).toBe("(unparseable connection string)");
  });

  it("applies retention to its own chain only, up to a checkpoint, and the chain still verifies", async () => {
    const database = await createTemporaryDatabase();
    const keysDir = mkdtempSync(path.join(tmpdir(), "warden-pg-retention-"));
    const now = new Date("2026-12-01T12:00:00Z");
    let clock = new Date(now.getTime() - 300 * 86_400_000);
    const store = await PostgresEventStore.open({ url: database.url, chain: "r1", now: () => clock });
    const other = await PostgresEventStore.open({ url: database.url, chain: "r2", now: () => clock });
    const keys = loadOrCreateKeys(keysDir);
    const logger = createLogger({ name: "pg-retention-test", level: "silent" });
    const checkpointer = new Checkpointer({ store, keys, logger, everyEvents: 1_000_000 });
    try {
      for (let index = 0; index < 10; index++) await store.append(sampleToolCall(index));
      await other.append(sampleToolCall(100));
      await checkpointer.checkpoint(); // r1 seq 11
      clock = now;
      for (let index = 10; index < 15; index++) await store.append(sampleToolCall(index));
      await checkpointer.checkpoint();
      expect(await applyRetention({ store, days: 183, logger, now })).toEqual({
        removedThroughSeq: 10,
        removedEvents: 10,
      });
      const report = verifyLog(await store.rowsOfChain("r1"), { publicKey: keys.publicKey, witness: null });
      expect(report.problems).toEqual([]);
      expect(report.startsAt).toBe(11);
      // The other replica's chain is untouched, and deletes outside retention are still refused.
      expect(await other.read()).toHaveLength(1);
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      await expect(client.query("DELETE FROM warden_events WHERE chain = 'r1' AND seq = 12")).rejects.toThrow(
        /append-only/,
      );
      await client.end();
    } finally {
      await store.close();
      await other.close();
      await database.drop();
      rmSync(keysDir, { recursive: true, force: true });
    }
  });
});
