import { mkdirSync } from "node:fs";
import path from "node:path";
import { it } from "vitest";
import { findBubblewrap } from "../../src/sandbox/find-bubblewrap.js";
import { openSandboxSession, type SandboxSession } from "../../src/sandbox/index.js";
import type { TemporaryDirectories } from "./temporary-directories.js";

function bubblewrapMissingReason(): string | null {
  try {
    findBubblewrap();
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

const missingReason = bubblewrapMissingReason();
if (missingReason !== null && process.env.CI !== "true")
  console.warn(`skipping sandbox tests: ${missingReason}`);

/**
 * `it` for tests that need bubblewrap: skipped with a printed reason on a machine without it,
 * but run (and so failing) in CI, where a missing sandbox is a broken setup, not a reason to skip.
 */
export const sandboxIt = missingReason !== null && process.env.CI !== "true" ? it.skip : it;

export interface SandboxFixture {
  workspace: string;
  dataDir: string;
  home: string;
  session: SandboxSession;
}

export function createSandboxFixture(directories: TemporaryDirectories): SandboxFixture {
  const root = directories.create("warden-sandbox-");
  const workspace = path.join(root, "workspace");
  const dataDir = path.join(root, "data");
  const home = path.join(root, "home");
  for (const directory of [workspace, dataDir, home]) mkdirSync(directory);
  const session = openSandboxSession({ workspace, dataDir, home });
  return { workspace, dataDir, home, session };
}
