/**
 * Versioned migrations. `body` is the canonical JSON (RFC 8785) of the event without its
 * hash — exactly the bytes that were hashed; the other columns are copies for queries and
 * are re-derived from `body` by verify.
 */
export const migrations: string[] = [
  `CREATE TABLE events (
     seq INTEGER PRIMARY KEY,
     id TEXT NOT NULL UNIQUE,
     time TEXT NOT NULL,
     type TEXT NOT NULL,
     agent_id TEXT NOT NULL,
     session_id TEXT NOT NULL,
     trace_id TEXT NOT NULL,
     hash TEXT NOT NULL,
     body TEXT NOT NULL
   ) STRICT;
   CREATE INDEX events_session ON events (session_id, seq);
   CREATE INDEX events_agent ON events (agent_id, seq);
   CREATE INDEX events_type ON events (type, seq);
   CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
   CREATE TRIGGER events_no_delete BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;`,
];
