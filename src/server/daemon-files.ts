import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { dataFiles } from "../core/data-dir.js";
import { WardenError } from "../core/errors.js";

/** Creates the data directory owner-only (0700): the agent's own processes must not reach it. */
export function ensureDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
}

/** The token reviewer commands present on the socket; readable only by the daemon's user. */
export function loadOrCreateOperatorToken(dataDir: string): string {
  const file = path.join(dataDir, dataFiles.operatorToken);
  if (!existsSync(file))
    writeFileSync(file, `wdn_op_${randomBytes(24).toString("base64url")}\n`, { mode: 0o600, flag: "wx" });
  return readFileSync(file, "utf8").trim();
}

export function readOperatorToken(dataDir: string): string {
  try {
    return readFileSync(path.join(dataDir, dataFiles.operatorToken), "utf8").trim();
  } catch (error) {
    throw new WardenError(
      "unauthorized",
      `cannot read the operator token in ${dataDir} (${(error as NodeJS.ErrnoException).code}); reviewer commands must run as the daemon's user`,
    );
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function readDaemonPid(dataDir: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(path.join(dataDir, dataFiles.pid), "utf8"), 10);
    return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Takes the single-owner lock for a data directory: a pid file created exclusively. A pid
 * file left by a dead daemon is taken over.
 */
export function acquireDaemonLock(dataDir: string): () => void {
  const file = path.join(dataDir, dataFiles.pid);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: "wx", mode: 0o600 });
      return () => {
        try {
          if (readFileSync(file, "utf8") === String(process.pid)) unlinkSync(file);
        } catch {
          // Already gone.
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const running = readDaemonPid(dataDir);
      if (running !== null && running !== process.pid) {
        throw new WardenError("daemon-running", `a Warden daemon (pid ${running}) already owns ${dataDir}`);
      }
      unlinkSync(file);
    }
  }
  throw new WardenError("daemon-running", `cannot take the lock on ${dataDir}`);
}
