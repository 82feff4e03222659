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

export interface StoreSource {
  dataDir: string;
  /** A PostgreSQL store (`warden up --db`) instead of the data directory's SQLite file. */
  db?: string | undefined;
  /** With `db`: one replica's chain; without, every chain in commit order. */
  chain?: string | undefined;
}

/**
 * Events from either store. The cursor each event carries (`cursor`) is what to pass as
 * `afterSeq` to continue after it: its seq, or with every PostgreSQL chain its position.
 */
export async function readFrom(
  source: StoreSource,
  query: EventQuery,
): Promise<(StoredEvent & { cursor: number; chain?: string })[]> {
  if (source.db === undefined) {
    if (source.chain !== undefined)
      throw new WardenError("usage", "--chain needs --db: SQLite has one chain");
    return readStore(source.dataDir, query).map((event) => ({ ...event, cursor: event.seq }));
  }
  if (!/^postgres(ql)?:\/\//.test(source.db))
    throw new WardenError("usage", `--db must be a postgres:// URL, not "${source.db}"`);
  const { readPostgresEvents } = await import("../store/postgres/postgres-event-store.js");
  const events = await readPostgresEvents(source.db, {
    ...query,
    ...(source.chain === undefined ? {} : { chain: source.chain }),
  });
  return events.map(({ position, ...event }) => ({
    ...event,
    cursor: source.chain === undefined ? position : event.seq,
  }));
}
