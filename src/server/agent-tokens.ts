import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";

interface TokenRecord {
  agentId: string;
  /** SHA-256 of the token: the token itself is shown once and never stored. */
  tokenHash: string;
  createdAt: string;
}

const fileName = "agent-tokens.json";

function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** Agent credentials for the HTTP endpoints. Only the daemon reads and writes the file. */
export class AgentTokens {
  readonly #file: string;
  #records: TokenRecord[];

  constructor(dataDir: string) {
    this.#file = path.join(dataDir, fileName);
    this.#records = existsSync(this.#file)
      ? (JSON.parse(readFileSync(this.#file, "utf8")) as TokenRecord[])
      : [];
  }

  create(agentId: string, now = new Date()): string {
    const token = `wdn_agent_${randomBytes(24).toString("base64url")}`;
    this.#records.push({ agentId, tokenHash: hashToken(token), createdAt: now.toISOString() });
    const temporary = `${this.#file}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(this.#records, null, 2), { mode: 0o600 });
    renameSync(temporary, this.#file);
    return token;
  }

  /** The agent a bearer token belongs to, or null. Compares hashes in constant time. */
  agentFor(token: string): string | null {
    const given = Buffer.from(hashToken(token), "hex");
    let found: string | null = null;
    for (const record of this.#records) {
      if (timingSafeEqual(given, Buffer.from(record.tokenHash, "hex"))) found = record.agentId;
    }
    return found;
  }
}
