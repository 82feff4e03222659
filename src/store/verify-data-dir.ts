import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { dataFiles } from "../core/data-dir.js";
import { WardenError } from "../core/errors.js";
import type { WitnessEntry } from "./checkpointer.js";
import { readPublicKey } from "./signing-keys.js";
import { iterateRows, openReadOnly } from "./sqlite/sqlite-event-store.js";
import { parseWitnessFile, type VerifyReport, verifyLog } from "./verify-log.js";

export interface VerifyDataDirOptions {
  dataDir: string;
  /** A public key kept outside the data directory; without it the key beside the log is used. */
  publicKeyFile?: string;
  witness?: string;
}

/** Verifies the store of a data directory, opened read-only. Creates nothing. */
export async function verifyDataDir(
  options: VerifyDataDirOptions,
): Promise<VerifyReport & { publicKeySource: string }> {
  const storeFile = path.join(options.dataDir, dataFiles.store);
  if (!existsSync(storeFile))
    throw new WardenError("store-unavailable", `no Warden store in ${options.dataDir}`);
  const keyFile = options.publicKeyFile ?? path.join(options.dataDir, dataFiles.publicKey);
  const publicKey = existsSync(keyFile) ? readPublicKey(keyFile) : null;
  const witness = options.witness ? await readWitness(options.witness) : null;
  const database = openReadOnly(storeFile);
  try {
    const report = verifyLog(iterateRows(database), { publicKey, witness });
    return { ...report, publicKeySource: publicKey ? keyFile : "none" };
  } catch (error) {
    if (WardenError.isInstance(error)) throw error;
    return {
      ok: false,
      startsAt: 1,
      events: 0,
      head: null,
      checkpoints: 0,
      lastCheckpointSeq: null,
      witnessed: null,
      problems: [
        { seq: 0, kind: "corrupt", message: `the store file cannot be read: ${(error as Error).message}` },
      ],
      publicKeySource: publicKey ? keyFile : "none",
    };
  } finally {
    database.close();
  }
}

async function readWitness(witness: string): Promise<WitnessEntry[]> {
  if (/^https?:\/\//.test(witness)) {
    const response = await fetch(witness);
    if (!response.ok)
      throw new WardenError("config-invalid", `witness ${witness} answered ${response.status}`);
    const body = await response.text();
    return parseWitnessFile(body);
  }
  if (!existsSync(witness)) throw new WardenError("config-invalid", `witness file ${witness} does not exist`);
  return parseWitnessFile(readFileSync(witness, "utf8"));
}
