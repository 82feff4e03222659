import { createHash, randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { WardenError } from "../core/errors.js";

export const reviewerRoles = ["viewer", "reviewer", "admin"] as const;
export type ReviewerRole = (typeof reviewerRoles)[number];

/** viewer < reviewer < admin: each role may do what the ones before it may. */
export function roleAtLeast(role: ReviewerRole, needed: ReviewerRole): boolean {
  return reviewerRoles.indexOf(role) >= reviewerRoles.indexOf(needed);
}

export const reviewerNamePattern = /^[A-Za-z0-9_.-]{1,64}$/;

// scrypt (RFC 7914) is memory-hard: N=2^15, r=8 needs 32 MiB per hash. Node 20 has no argon2.
const scryptParameters = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const keyLength = 32;

const accountSchema = z.object({
  name: z.string().regex(reviewerNamePattern),
  role: z.enum(reviewerRoles),
  password: z
    .object({
      algorithm: z.literal("scrypt"),
      N: z.number(),
      r: z.number(),
      p: z.number(),
      salt: z.string(),
      hash: z.string(),
    })
    .nullable(),
  /** SHA-256 of each API token: the token is shown once and never stored. */
  tokenHashes: z.array(z.string()),
  createdAt: z.string(),
});
type AccountRecord = z.infer<typeof accountSchema>;

export interface ReviewerAccount {
  name: string;
  role: ReviewerRole;
}

const fileName = "reviewers.json";

function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

function derive(
  password: string,
  salt: Buffer,
  parameters: { N: number; r: number; p: number },
): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, keyLength, { ...parameters, maxmem: scryptParameters.maxmem }, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  );
}

/**
 * Reviewer accounts (people; agents are tokens, see server/agent-tokens.ts), kept in
 * `DATA/reviewers.json` (0600), which only the daemon reads and writes.
 */
export class ReviewerAccounts {
  readonly #file: string;
  #records: AccountRecord[];
  readonly #byTokenHash = new Map<string, AccountRecord>();
  /** A hash to compare against when the account does not exist, so timing does not tell. */
  readonly #decoy = { salt: randomBytes(16), hash: randomBytes(keyLength) };

  constructor(dataDir: string) {
    this.#file = path.join(dataDir, fileName);
    this.#records = existsSync(this.#file)
      ? z.array(accountSchema).parse(JSON.parse(readFileSync(this.#file, "utf8")))
      : [];
    for (const record of this.#records)
      for (const hash of record.tokenHashes) this.#byTokenHash.set(hash, record);
  }

  /** Adds an account and returns its first API token (shown once). */
  async add(name: string, role: ReviewerRole, password: string | null, now = new Date()): Promise<string> {
    if (!reviewerNamePattern.test(name))
      throw new WardenError("input-invalid", `name: must match ${reviewerNamePattern.source}`);
    if (this.#records.some((record) => record.name === name))
      throw new WardenError("input-invalid", `name: a reviewer named ${name} exists already`);
    if (password !== null && password.length < 12)
      throw new WardenError("input-invalid", "password: must be at least 12 characters");
    let passwordRecord: AccountRecord["password"] = null;
    if (password !== null) {
      const salt = randomBytes(16);
      const { N, r, p } = scryptParameters;
      const hash = await derive(password, salt, { N, r, p });
      passwordRecord = {
        algorithm: "scrypt",
        N,
        r,
        p,
        salt: salt.toString("base64"),
        hash: hash.toString("base64"),
      };
    }
    const token = `wdn_user_${randomBytes(24).toString("base64url")}`;
    const record: AccountRecord = {
      name,
      role,
      password: passwordRecord,
      tokenHashes: [hashToken(token)],
      createdAt: now.toISOString(),
    };
    this.#records.push(record);
    this.#byTokenHash.set(record.tokenHashes[0]!, record);
    this.#save();
    return token;
  }

  list(): ReviewerAccount[] {
    return this.#records.map(({ name, role }) => ({ name, role }));
  }

  /** The account a bearer token belongs to, or null. Tokens carry 192 random bits; the lookup is by hash. */
  accountForToken(token: string): ReviewerAccount | null {
    const record = this.#byTokenHash.get(hashToken(token));
    return record ? { name: record.name, role: record.role } : null;
  }

  /** Checks a password; the same work is done whether or not the account exists. */
  async checkPassword(name: string, password: string): Promise<ReviewerAccount | null> {
    const record = this.#records.find((candidate) => candidate.name === name);
    const stored = record?.password;
    const salt = stored ? Buffer.from(stored.salt, "base64") : this.#decoy.salt;
    const expected = stored ? Buffer.from(stored.hash, "base64") : this.#decoy.hash;
    const parameters = stored ?? scryptParameters;
    const given = await derive(password, salt, { N: parameters.N, r: parameters.r, p: parameters.p });
    const matches = given.length === expected.length && timingSafeEqual(given, expected);
    return matches && record && stored ? { name: record.name, role: record.role } : null;
  }

  #save(): void {
    const temporary = `${this.#file}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(this.#records, null, 2), { mode: 0o600 });
    renameSync(temporary, this.#file);
  }
}
