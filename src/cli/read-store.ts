import { existsSync } from "node:fs";
import path from "node:path";
import { dataFiles } from "../core/data-dir.js";
import { WardenError } from "../core/errors.js";
import type { EventQuery } from "../core/event-store.js";
import type { StoredEvent } from "../core/events.js";
import { openReadOnly, readEvents } from "../store/sqlite/sqlite-event-store.js";

/**
 * Reads the log straight from the store file, read-only. SQLite's WAL lets readers run beside
 * the daemon, so this works whether or not a daemon is up.
 */
export function readStore(dataDir: string, query: EventQuery): StoredEvent[] {
  const file = path.join(dataDir, dataFiles.store);
  if (!existsSync(file)) throw new WardenError("usage", `no Warden store in ${dataDir}`);
  const database = openReadOnly(file);
  try {
    return readEvents(database, query);
  } finally {
    database.close();
  }
}
