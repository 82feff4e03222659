import path from "node:path";
import { dataFiles } from "../core/data-dir.js";
import { acquireDaemonLock } from "../server/daemon-files.js";
import {
  type RecordReportsRequest,
  type RecordReportsResult,
  recordReports,
} from "../server/record-reports.js";
import { createSecretRedactor } from "../store/redact-secrets.js";
import { loadOrCreateKeys } from "../store/signing-keys.js";
import { SqliteEventStore } from "../store/sqlite/sqlite-event-store.js";
import { connectAsOperator, isDaemonRunning } from "./daemon-connection.js";

/**
 * Appends reports (findings, claim checks, audit verdicts) to the record of `dataDir`: through
 * the daemon when one runs (it owns the store), else by taking the daemon's lock and opening the
 * SQLite store for writing, with the same secret redaction the daemon applies. Either way the
 * operator token or the data directory's owner is needed: never an agent's.
 */
export async function recordReportsIn(
  dataDir: string,
  request: RecordReportsRequest,
): Promise<RecordReportsResult> {
  if (await isDaemonRunning(dataDir)) {
    const client = await connectAsOperator(dataDir);
    try {
      return await recordInBatches(request, (batch) =>
        client.call<RecordReportsResult>("record-reports", batch),
      );
    } finally {
      client.close();
    }
  }
  const release = acquireDaemonLock(dataDir);
  try {
    const keys = loadOrCreateKeys(dataDir);
    const store = new SqliteEventStore({
      file: path.join(dataDir, dataFiles.store),
      redact: createSecretRedactor(keys.fingerprintKey),
    });
    try {
      return await recordReports(store, request);
    } finally {
      await store.close();
    }
  } finally {
    release();
  }
}

/** Requests of at most `reportsPerRequest` reports, so each stays far below the socket's line limit. */
const reportsPerRequest = 500;

async function recordInBatches(
  request: RecordReportsRequest,
  send: (batch: RecordReportsRequest) => Promise<RecordReportsResult>,
): Promise<RecordReportsResult> {
  const reports = request.reports ?? [];
  const total: RecordReportsResult = { recorded: 0, alreadyReported: 0, auditVerdictIds: [] };
  for (let start = 0; start === 0 || start < reports.length; start += reportsPerRequest) {
    const batch: RecordReportsRequest = {
      reports: reports.slice(start, start + reportsPerRequest),
      ...(start === 0 && request.auditVerdicts ? { auditVerdicts: request.auditVerdicts } : {}),
    };
    const result = await send(batch);
    total.recorded += result.recorded;
    total.alreadyReported += result.alreadyReported;
    total.auditVerdictIds.push(...result.auditVerdictIds);
  }
  return total;
}
