import { accessSync, constants } from "node:fs";
import path from "node:path";
import { installBubblewrapHint, SandboxUnavailableError } from "./sandbox-error.js";

/** The absolute path of `bwrap` on the host's PATH (resolved here because the sandbox's PATH is fixed). */
export function findBubblewrap(searchPath = process.env.PATH ?? "/usr/bin:/bin"): string {
  for (const directory of searchPath.split(":")) {
    if (!directory) continue;
    const candidate = path.join(directory, "bwrap");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  throw new SandboxUnavailableError(
    `bubblewrap (bwrap) is not installed, and Warden never runs commands unsandboxed: ${installBubblewrapHint}`,
  );
}
