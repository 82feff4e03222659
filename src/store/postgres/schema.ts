/**
 * Versioned migrations for the PostgreSQL store, applied in order under an advisory lock so
 * that replicas starting together do not race. As in SQLite, `body` is the canonical JSON
 * (RFC 8785) of the event without its hash — exactly the bytes that were hashed. Each replica
 * writes its own hash chain (`chain`); `position` orders events across chains and is not hashed.
 */
export const postgresMigrations: string[] = [
  `CREATE TABLE warden_events (
     position BIGSERIAL PRIMARY KEY,
     chain TEXT NOT NULL,
     seq BIGINT NOT NULL,
     id TEXT NOT NULL UNIQUE,
     time TEXT NOT NULL,
     type TEXT NOT NULL,
     agent_id TEXT NOT NULL,
     session_id TEXT NOT NULL,
     trace_id TEXT NOT NULL,
     hash TEXT NOT NULL,
     body TEXT NOT NULL,
     UNIQUE (chain, seq)
   );
   CREATE INDEX warden_events_session ON warden_events (session_id, position);
   CREATE INDEX warden_events_agent ON warden_events (agent_id, position);
   CREATE INDEX warden_events_type ON warden_events (type, position);
   CREATE FUNCTION warden_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN RAISE EXCEPTION 'events are append-only'; END $$;
   CREATE TRIGGER warden_events_no_update BEFORE UPDATE OR DELETE ON warden_events
     FOR EACH ROW EXECUTE FUNCTION warden_events_append_only();
   CREATE TRIGGER warden_events_no_truncate BEFORE TRUNCATE ON warden_events
     FOR EACH STATEMENT EXECUTE FUNCTION warden_events_append_only();`,
  // Oversight events (kill switch, grants) are announced to the other replicas when they commit:
  // NOTIFY is delivered only after the inserting transaction commits.
  `CREATE FUNCTION warden_events_announce() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN PERFORM pg_notify('warden_oversight', NEW.chain || ' ' || NEW.seq); RETURN NULL; END $$;
   CREATE TRIGGER warden_events_announce AFTER INSERT ON warden_events
     FOR EACH ROW WHEN (NEW.type IN ('kill-switch', 'grant-created', 'grant-revoked'))
     EXECUTE FUNCTION warden_events_announce();`,
  // Retention may delete, inside its own transaction only (it sets warden.retention there);
  // updates and every other delete are still refused.
  `CREATE OR REPLACE FUNCTION warden_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       IF TG_OP = 'DELETE' AND current_setting('warden.retention', true) = 'on' THEN RETURN OLD; END IF;
       RAISE EXCEPTION 'events are append-only';
     END $$;`,
  // Every replica's inbox lists the open held calls of the others: requests by expiry, and
  // decisions by the approval they decide.
  `CREATE INDEX warden_events_approval_open ON warden_events ((body::jsonb #>> '{data,expiresAt}'))
     WHERE type = 'approval-request';
   CREATE INDEX warden_events_approval_id ON warden_events ((body::jsonb #>> '{data,approvalId}'))
     WHERE type IN ('approval-request', 'approval-decision');`,
];
