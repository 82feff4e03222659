import { generateKeyPairSync } from "node:crypto";
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { dataFiles } from "../src/core/data-dir.js";
import { WardenError } from "../src/core/errors.js";
import { keyIdOf, loadOrCreateKeys } from "../src/store/signing-keys.js";
import { SqliteEventStore } from "../src/store/sqlite/sqlite-event-store.js";
import { verifyDataDir } from "../src/store/verify-data-dir.js";
import type { VerifyProblemKind } from "../src/store/verify-log.js";
import {
  deleteRows,
  editBody,
  type QueryColumn,
  readAllRows,
  rewriteChainFrom,
  setColumn,
  swapRows,
  tamperWith,
} from "./helpers/log-tampering.js";
import { type SignedLog, sampleEvent, writeSignedLog } from "./helpers/signed-log.js";
import { TemporaryDirectories } from "./helpers/temporary-directories.js";
import { runWarden, stackFramePattern, type WardenResult } from "./helpers/warden-binary.js";

// The template log: events 1-9, checkpoint 10 (signs 9), 11-19, checkpoint 20 (signs 19),
// 21-29, checkpoint 30 (signs 29), then 31-35 with no checkpoint. The witness holds heads 9, 19, 29.
const segments = [9, 9, 9, 5];
const head = 35;
const lastWitnessedHead = 29;

const templates = new TemporaryDirectories();
const scratch = new TemporaryDirectories();
let template: { root: string; log: SignedLog };

interface Copy {
  dataDir: string;
  storeFile: string;
  witness: string;
  /** The real public key, kept outside the data directory. */
  realPublicKey: string;
}

beforeAll(async () => {
  const root = templates.create("warden-tamper-template-");
  const log = await writeSignedLog({
    dataDir: path.join(root, "state"),
    witnessFile: path.join(root, "witness.jsonl"),
    segments,
  });
  copyFileSync(path.join(root, "state", dataFiles.publicKey), path.join(root, "real-key.pub.pem"));
  template = { root, log };
});

afterEach(() => scratch.removeAll());
afterAll(() => templates.removeAll());

function copyOfTemplate(): Copy {
  const root = scratch.create("warden-tamper-");
  // The template's store was closed, so everything is in the main file; a reader's empty WAL is left out.
  cpSync(template.root, root, { recursive: true, filter: (source) => !/-(wal|shm)$/.test(source) });
  const dataDir = path.join(root, "state");
  return {
    dataDir,
    storeFile: path.join(dataDir, dataFiles.store),
    witness: path.join(root, "witness.jsonl"),
    realPublicKey: path.join(root, "real-key.pub.pem"),
  };
}

function verify(copy: Copy, options: { witness?: boolean; publicKey?: boolean } = {}): WardenResult {
  const args = ["verify", "--data-dir", copy.dataDir];
  if (options.witness) args.push("--witness", copy.witness);
  if (options.publicKey) args.push("--public-key", copy.realPublicKey);
  const result = runWarden(args);
  expect(result.stderr).not.toMatch(stackFramePattern);
  return result;
}

function expectIntact(result: WardenResult, events: number): void {
  expect(result.code, result.stdout + result.stderr).toBe(0);
  expect(result.stdout).toMatch(new RegExp(`^intact: ${events} events, head seq ${events} `));
}

function expectFailedAt(result: WardenResult, seq: number, kind: VerifyProblemKind, message?: RegExp): void {
  expect(result.code, result.stdout + result.stderr).toBe(1);
  const [firstLine] = result.stdout.split("\n");
  expect(firstLine).toMatch(new RegExp(`^FAILED at seq ${seq}: ${kind}: `));
  if (message) expect(firstLine).toMatch(message);
}

const changeArguments = (body: { data: Record<string, unknown> }) => {
  body.data.arguments = { path: "/etc/shadow" };
};

describe("warden verify on a tampered log", () => {
  it("calls an untouched log intact and exits 0, with and without the witness and the external key", () => {
    const copy = copyOfTemplate();
    const plain = verify(copy);
    expectIntact(plain, head);
    expect(plain.stdout).toMatch(/3 signed checkpoints/);
    expectIntact(verify(copy, { witness: true, publicKey: true }), head);
    expect(verify(copy, { witness: true }).stdout).toMatch(
      new RegExp(`witness up to seq ${lastWitnessedHead}`),
    );
  });

  it("names the edited seq when an event's body is changed and its hash is left alone", () => {
    const copy = copyOfTemplate();
    tamperWith(copy.storeFile, (database) => editBody(database, 15, changeArguments, { rehash: false }));
    expectFailedAt(verify(copy), 15, "edited", /does not match its hash/);
  });

  it("catches a body edit with a recomputed hash at the next event, whose prevHash no longer matches", () => {
    const copy = copyOfTemplate();
    tamperWith(copy.storeFile, (database) => editBody(database, 15, changeArguments, { rehash: true }));
    expectFailedAt(verify(copy), 16, "edited", /does not chain to seq 15/);
  });

  it("catches a rehashed edit of a checkpointed event through the hash the checkpoint signed", () => {
    const copy = copyOfTemplate();
    tamperWith(copy.storeFile, (database) => editBody(database, 19, changeArguments, { rehash: true }));
    expectFailedAt(verify(copy), 19, "edited", /checkpoint at seq 20 signed a different hash for seq 19/);
  });

  it("reports an event deleted from the middle as missing at its seq", () => {
    const copy = copyOfTemplate();
    tamperWith(copy.storeFile, (database) => deleteRows(database, 15, 15));
    expectFailedAt(verify(copy), 15, "missing", /events 15\.\.15 are missing/);
  });

  it("reports two swapped events as reordered at the first of them", () => {
    const copy = copyOfTemplate();
    tamperWith(copy.storeFile, (database) => swapRows(database, 15, 16));
    expectFailedAt(verify(copy), 15, "reordered", /row 15 holds the event written as seq 16/);
  });

  it("catches an edit to a query column that leaves the hashed body alone", () => {
    const copy = copyOfTemplate();
    tamperWith(copy.storeFile, (database) => setColumn(database, 15, "agent_id", "someone-else"));
    expectFailedAt(verify(copy), 15, "edited", /query columns differ/);
  });

  it("says that events after the last checkpoint are covered by the chain only, so cutting them is not seen", () => {
    // Inherent: nothing signed or witnessed commits to seq 31-35 yet.
    const copy = copyOfTemplate();
    tamperWith(copy.storeFile, (database) => deleteRows(database, 34));
    const result = verify(copy);
    expectIntact(result, 33);
    expect(result.stdout).toMatch(
      /note: the last 3 events come after the last signed checkpoint; a cut there is not detectable/,
    );
  });

  it("catches a truncation past the last checkpoint only with the witness", () => {
    const copy = copyOfTemplate();
    tamperWith(copy.storeFile, (database) => deleteRows(database, lastWitnessedHead));
    expectIntact(verify(copy), lastWitnessedHead - 1);
    expectFailedAt(
      verify(copy, { witness: true }),
      lastWitnessedHead,
      "truncated",
      /the witness saw seq 29, but the log ends at seq 28/,
    );
  });

  it("catches a rollback to an earlier seq and a new tail only with the witness", async () => {
    const copy = copyOfTemplate();
    tamperWith(copy.storeFile, (database) => deleteRows(database, 25));
    const store = new SqliteEventStore({ file: copy.storeFile });
    for (let index = 100; index < 111; index++) await store.append(sampleEvent(index));
    await store.close();
    expectIntact(verify(copy), head);
    expectFailedAt(verify(copy, { witness: true }), lastWitnessedHead, "rolled-back");
  });

  it("catches a chain rewritten from seq 15 on with recomputed hashes at the first checkpoint after it", () => {
    const copy = copyOfTemplate();
    tamperWith(copy.storeFile, (database) =>
      rewriteChainFrom(database, 15, {
        edit: { seq: 15, change: changeArguments },
        checkpoints: { kind: "keep" },
      }),
    );
    expectFailedAt(verify(copy), 19, "edited", /checkpoint at seq 20 signed a different hash for seq 19/);
  });

  it("catches a rewritten chain whose checkpoints claim the new hashes by their signatures", () => {
    const copy = copyOfTemplate();
    tamperWith(copy.storeFile, (database) =>
      rewriteChainFrom(database, 15, {
        edit: { seq: 15, change: changeArguments },
        checkpoints: { kind: "claim-new-head" },
      }),
    );
    expectFailedAt(verify(copy), 20, "bad-signature");
  });

  it("catches a chain re-signed with a substituted key when --public-key names the real key kept elsewhere", () => {
    const copy = copyOfTemplate();
    const attacker = generateKeyPairSync("ed25519");
    tamperWith(copy.storeFile, (database) =>
      // From the first checkpoint on, so that every checkpoint carries the attacker's signature.
      rewriteChainFrom(database, 10, {
        edit: { seq: 15, change: changeArguments },
        checkpoints: { kind: "re-sign", privateKey: attacker.privateKey, keyId: keyIdOf(attacker.publicKey) },
      }),
    );
    writeFileSync(
      path.join(copy.dataDir, dataFiles.publicKey),
      attacker.publicKey.export({ type: "spki", format: "pem" }),
    );
    writeFileSync(
      path.join(copy.dataDir, dataFiles.signingKey),
      attacker.privateKey.export({ type: "pkcs8", format: "pem" }),
    );
    // The key beside the log is the attacker's, so the log alone looks consistent.
    expectIntact(verify(copy), head);
    expectFailedAt(
      verify(copy, { publicKey: true }),
      10,
      "bad-signature",
      /does not verify with the public key/,
    );
    // The witness's entries were signed by the real key, which the substituted one cannot verify.
    expectFailedAt(verify(copy, { witness: true }), 9, "bad-signature", /witness entry is not signed/);
  });

  it("catches a chain re-signed with the stolen real key only through the witness", () => {
    const copy = copyOfTemplate();
    const stolen = loadOrCreateKeys(copy.dataDir);
    tamperWith(copy.storeFile, (database) =>
      rewriteChainFrom(database, 15, {
        edit: { seq: 15, change: changeArguments },
        checkpoints: { kind: "re-sign", privateKey: stolen.privateKey, keyId: stolen.keyId },
      }),
    );
    expectIntact(verify(copy, { publicKey: true }), head);
    expectFailedAt(verify(copy, { witness: true, publicKey: true }), 19, "rolled-back");
  });

  it("exits 2 where there is no store and creates nothing", () => {
    const root = scratch.create("warden-verify-empty-");
    const empty = path.join(root, "empty");
    mkdirSync(empty);
    const missing = path.join(root, "missing");
    for (const dataDir of [empty, missing]) {
      const result = runWarden([
        "verify",
        "--data-dir",
        dataDir,
        "--witness",
        path.join(root, "witness.jsonl"),
      ]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/no Warden store/);
      expect(result.stderr).not.toMatch(stackFramePattern);
    }
    expect(readdirSync(empty)).toEqual([]);
    expect(readdirSync(root).sort()).toEqual(["empty"]);
  });
});

// One tampering step an attacker with write access to the file can take at row `seq`.
type Tampering =
  | { kind: "edit-body"; seq: number; field: "data" | "time" | "agentId" | "spanId"; rehash: boolean }
  | { kind: "edit-column"; seq: number; column: QueryColumn }
  | { kind: "delete"; seq: number }
  | { kind: "swap-with-next"; seq: number };

const expectedKind: Record<Tampering["kind"], VerifyProblemKind> = {
  "edit-body": "edited",
  "edit-column": "edited",
  delete: "missing",
  "swap-with-next": "reordered",
};

// Any row but the last: a change to the very last row is a truncation (or a truncation plus a
// new event), which only a witness that saw that row could catch.
const tamperedSeq = fc.integer({ min: 1, max: head - 1 });
const tampering: fc.Arbitrary<Tampering> = fc.oneof(
  fc.record({
    kind: fc.constant("edit-body" as const),
    seq: tamperedSeq,
    field: fc.constantFrom("data" as const, "time" as const, "agentId" as const, "spanId" as const),
    rehash: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant("edit-column" as const),
    seq: tamperedSeq,
    column: fc.constantFrom<QueryColumn>("id", "time", "type", "agent_id", "session_id", "trace_id", "hash"),
  }),
  fc.record({ kind: fc.constant("delete" as const), seq: tamperedSeq }),
  fc.record({ kind: fc.constant("swap-with-next" as const), seq: tamperedSeq }),
);

function apply(database: Database.Database, step: Tampering): void {
  switch (step.kind) {
    case "edit-body":
      editBody(
        database,
        step.seq,
        (body) => {
          if (step.field === "data") body.data = { ...body.data, tampered: true };
          else body[step.field] = `${String(body[step.field])}0`;
        },
        { rehash: step.rehash },
      );
      return;
    case "edit-column":
      setColumn(
        database,
        step.seq,
        step.column,
        step.column === "hash" ? "f".repeat(64) : `tampered-${step.seq}`,
      );
      return;
    case "delete":
      deleteRows(database, step.seq, step.seq);
      return;
    case "swap-with-next":
      swapRows(database, step.seq, step.seq + 1);
  }
}

/**
 * What verify can promise about a single change at row s: it sees it, and the first problem
 * it names is at s, except for an edit whose hash was recomputed. That row is consistent in
 * itself, so the break shows at s+1 (the next prevHash), or at s when a checkpoint or a
 * mirrored query column commits to it. Nothing before s is blamed.
 */
function upperBound(step: Tampering): number {
  return step.kind === "edit-body" && step.rehash ? step.seq + 1 : step.seq;
}

function readRows(storeFile: string) {
  const database = new Database(storeFile, { readonly: true, fileMustExist: true });
  try {
    return readAllRows(database).map((row) => ({ seq: row.seq, hash: row.hash, body: row.body }));
  } finally {
    database.close();
  }
}

describe("verify under random damage", () => {
  it("reports any single-row tampering at the tampered seq, or the next one for a rehashed edit", async () => {
    await fc.assert(
      fc.asyncProperty(tampering, fc.boolean(), async (step, withWitness) => {
        scratch.removeAll();
        const copy = copyOfTemplate();
        tamperWith(copy.storeFile, (database) => apply(database, step));
        const report = await verifyDataDir({
          dataDir: copy.dataDir,
          publicKeyFile: copy.realPublicKey,
          ...(withWitness ? { witness: copy.witness } : {}),
        });
        expect(report.ok).toBe(false);
        const first = report.problems[0]!;
        expect(first.seq).toBeGreaterThanOrEqual(step.seq);
        expect(first.seq).toBeLessThanOrEqual(upperBound(step));
        expect(first.kind).toBe(expectedKind[step.kind]);
      }),
      { numRuns: 40 },
    );
  });

  const pageSize = 4096;

  // Flips aimed at any page of the file (header, schema, table and index pages) and any byte in it.
  function byteFlips(maxLength: number) {
    const pages = Math.ceil(statSync(template.log.storeFile).size / pageSize);
    const flip = fc.record({
      page: fc.integer({ min: 0, max: pages - 1 }),
      offset: fc.integer({ min: 0, max: pageSize - 1 }),
      mask: fc.integer({ min: 1, max: 255 }),
    });
    return fc.array(flip, { minLength: 1, maxLength });
  }

  function flipBytes(storeFile: string, flips: { page: number; offset: number; mask: number }[]): void {
    const bytes = readFileSync(storeFile);
    for (const { page, offset, mask } of flips) {
      const position = Math.min(page * pageSize + offset, bytes.length - 1);
      bytes[position] = bytes[position]! ^ mask;
    }
    writeFileSync(storeFile, bytes);
  }

  it("never calls a log intact after flipped bytes changed an event it read", async () => {
    const original = readRows(template.log.storeFile);
    await fc.assert(
      fc.asyncProperty(byteFlips(3), async (flips) => {
        scratch.removeAll();
        const copy = copyOfTemplate();
        expect(existsSync(`${copy.storeFile}-wal`)).toBe(false);
        flipBytes(copy.storeFile, flips);
        let report: Awaited<ReturnType<typeof verifyDataDir>>;
        try {
          report = await verifyDataDir({
            dataDir: copy.dataDir,
            publicKeyFile: copy.realPublicKey,
            witness: copy.witness,
          });
        } catch (error) {
          // SQLite may refuse to open the file at all; that must be a Warden error, not a crash.
          expect(WardenError.isInstance(error), String(error)).toBe(true);
          return;
        }
        if (report.ok) {
          // The flip hit something verify does not read (an index, free space): what it read is the original log.
          const rows = readRows(copy.storeFile);
          expect(rows).toEqual(original.slice(0, rows.length));
          expect(rows.length).toBe(report.events);
        } else {
          expect(report.problems.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 150 },
    );
  });

  it("answers a byte-flipped store with exit 1 or 2 and a message, or with intact only when no event changed", () => {
    const original = readRows(template.log.storeFile);
    fc.assert(
      fc.property(byteFlips(1), (flips) => {
        scratch.removeAll();
        const copy = copyOfTemplate();
        flipBytes(copy.storeFile, flips);
        const result = verify(copy, { witness: true, publicKey: true });
        expect([0, 1, 2]).toContain(result.code);
        if (result.code === 0) {
          expect(result.stdout).toMatch(/^intact: /);
          const rows = readRows(copy.storeFile);
          expect(rows).toEqual(original.slice(0, rows.length));
        } else {
          const message = `${result.stdout}${result.stderr}`;
          expect(message).toMatch(/^(FAILED at seq \d+: [a-z-]+: |warden: )/);
        }
      }),
      { numRuns: 10 },
    );
  });
});
