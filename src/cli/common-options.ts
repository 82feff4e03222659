import { userInfo } from "node:os";
import { Option } from "commander";
import { resolveDataDir } from "../core/data-dir.js";

export const dataDirOption = () =>
  new Option(
    "--data-dir <dir>",
    "Warden's data directory (default: $WARDEN_HOME, else $XDG_STATE_HOME/warden)",
  );
export const jsonOption = () => new Option("--json", "machine-readable output (JSON lines)");
export const policyOption = () => new Option("--policy <file>", "the constitution (YAML) to enforce");

export function dataDirFrom(options: { dataDir?: string }): string {
  return resolveDataDir(options.dataDir);
}

/** Until reviewer accounts exist (#5), a reviewer is the operating-system user running the command. */
export function reviewerName(): string {
  return `user:${userInfo().username}`;
}
