import { Worker } from "node:worker_threads";
import { WardenError } from "../core/errors.js";
import type { EventStore } from "../core/event-store.js";

// Verifying re-reads and re-hashes the whole log: it runs on a worker thread so that decisions
// on the daemon's event loop never wait for it.
const workerSource = `
const { parentPort, workerData } = require("node:worker_threads");
import(workerData.module)
  .then((verify) => verify.verifyDataDir(workerData.options))
  .then(
    (report) => parentPort.postMessage({ report }),
    (error) => parentPort.postMessage({ error: String(error && error.message) }),
  );
`;

function verifyOnWorker(options: { dataDir: string; witness?: string }): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerSource, {
      eval: true,
      workerData: { module: new URL("../store/verify-data-dir.js", import.meta.url).href, options },
    });
    worker.once("message", (message: { report?: unknown; error?: string }) => {
      void worker.terminate();
      if (message.error !== undefined)
        reject(new WardenError("internal", `log verification failed: ${message.error}`));
      else resolve(message.report);
    });
    worker.once("error", (error) =>
      reject(new WardenError("internal", `log verification failed: ${error.message}`)),
    );
  });
}

/**
 * The log's integrity for the dashboard: `warden verify` on a worker thread, at most one run at
 * a time; a report is reused for `minimumIntervalMs`.
 */
export function createLogIntegrityCheck(options: {
  dataDir: string;
  witness?: string | undefined;
  store: EventStore;
  minimumIntervalMs?: number;
}): () => Promise<unknown> {
  const minimumIntervalMs = options.minimumIntervalMs ?? 2000;
  let last: { at: number; seq: number; report: unknown } | null = null;
  let running: Promise<unknown> | null = null;
  return async () => {
    if (last && Date.now() - last.at < minimumIntervalMs) return last.report;
    const head = (await options.store.head())?.seq ?? 0;
    running ??= (async () => {
      try {
        await options.store.flush();
        const report = await verifyOnWorker({
          dataDir: options.dataDir,
          ...(options.witness ? { witness: options.witness } : {}),
        });
        last = {
          at: Date.now(),
          seq: head,
          report: { ...(report as object), checkedAt: new Date().toISOString() },
        };
        return last.report;
      } finally {
        running = null;
      }
    })();
    return running;
  };
}
