import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type { EventRow } from "./sqlite-event-store.js";

// The writer thread's code. It is evaluated (not loaded from a file) so that it runs the same
// from `dist/` and under the test runner, which does not transform worker files. It gets the
// absolute path of better-sqlite3 because an evaluated worker resolves modules from the cwd.
const writerSource = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const database = new Database(workerData.file);
database.pragma("journal_mode = WAL");
database.pragma("synchronous = FULL");
database.pragma("busy_timeout = 5000");
const insert = database.prepare(
  "INSERT INTO events (seq, id, time, type, agent_id, session_id, trace_id, hash, body) " +
  "VALUES (@seq, @id, @time, @type, @agent_id, @session_id, @trace_id, @hash, @body)");
const commit = database.transaction((rows) => { for (const row of rows) insert.run(row); });
parentPort.on("message", (message) => {
  if (message.close) { database.close(); parentPort.close(); return; }
  try {
    commit(message.rows);
    parentPort.postMessage({ batch: message.batch, ok: true });
  } catch (error) {
    parentPort.postMessage({ batch: message.batch, ok: false, error: String(error && error.message || error) });
  }
});
`;

/**
 * Commits batches of rows on a thread of its own, so the fsync of one commit does not stop the
 * daemon's event loop: appends keep arriving and form the next batch meanwhile. Batches are
 * committed strictly in the order they are sent.
 */
export class SqliteWriter {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  #nextBatch = 1;
  #closed: Promise<void> | null = null;
  #failure: Error | null = null;

  constructor(file: string) {
    const driver = createRequire(import.meta.url).resolve("better-sqlite3");
    this.#worker = new Worker(writerSource, { eval: true, workerData: { file, driver } });
    this.#worker.on(
      "message",
      (message: { batch?: number; ok?: boolean; error?: string; closed?: boolean }) => {
        if (message.batch === undefined) return;
        const waiting = this.#waiting.get(message.batch);
        this.#waiting.delete(message.batch);
        if (message.ok) waiting?.resolve();
        else waiting?.reject(new Error(message.error ?? "commit failed"));
      },
    );
    this.#worker.on("error", (error) => this.#fail(error));
    this.#worker.on("exit", () => this.#fail(new Error("the store's writer thread exited")));
  }

  /** Resolves once the rows are committed (fsync'd). */
  commit(rows: EventRow[]): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    const batch = this.#nextBatch++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(batch, { resolve, reject });
      this.#worker.postMessage({ batch, rows });
    });
  }

  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.#worker.once("exit", () => resolve());
      this.#worker.postMessage({ close: true });
    });
    return this.#closed;
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const waiting of this.#waiting.values()) waiting.reject(error);
    this.#waiting.clear();
  }
}
