import { randomBytes } from "node:crypto";
import pg from "pg";

/** The server the PostgreSQL tests use; each test creates and drops its own database on it. */
export const postgresAdminUrl =
  process.env.WARDEN_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

async function missingReason(): Promise<string | null> {
  const client = new pg.Client({ connectionString: postgresAdminUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return null;
  } catch (error) {
    return `PostgreSQL is not reachable at ${postgresAdminUrl}: ${(error as Error).message}`;
  } finally {
    await client.end().catch(() => {});
  }
}

const reason = await missingReason();
if (reason !== null && process.env.CI !== "true") console.warn(`skipping PostgreSQL tests: ${reason}`);

/**
 * Whether to skip the PostgreSQL tests: only on a machine without a reachable server, and never
 * in CI, where a missing database is a broken setup (the tests then fail).
 */
export const skipPostgres = reason !== null && process.env.CI !== "true";

/** Creates an empty database; returns its URL and a function that drops it. */
export async function createTemporaryDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `warden_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: postgresAdminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(postgresAdminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: postgresAdminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
