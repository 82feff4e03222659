import path from "node:path";
import type { ChangeSet, FileChange, NeedsPerson } from "./change-set.js";
import { readFileNoFollow } from "./safe-paths.js";
import type { WorkspaceLayer } from "./workspace-layer.js";

/** Files that tools on the host run, or read to decide what to run, without a person asking. */
const hostExecutedRules: { matches: (parts: readonly string[]) => boolean; reason: string }[] = [
  {
    matches: (parts) => parts.includes(".git"),
    reason: "git runs hooks and configured commands (core.fsmonitor, filters, aliases) from .git on the host",
  },
  { matches: (parts) => parts.at(-1) === ".envrc", reason: "direnv runs .envrc on the host" },
  {
    matches: (parts) => parts.at(-1) === ".gitmodules" || parts.at(-1) === ".gitattributes",
    reason: "git reads it to decide which commands and filters to run",
  },
  {
    matches: (parts) => parts.includes(".vscode"),
    reason: "the editor runs tasks, launch configs, MCP servers and settings from .vscode on the host",
  },
  {
    matches: (parts) => parts.includes(".idea") || parts.includes(".zed"),
    reason: "the editor runs the run configurations and tasks it finds there on the host",
  },
  {
    matches: (parts) => parts.includes(".gemini") || parts.includes(".codex") || parts.includes(".continue"),
    reason: "agent clients start the MCP servers and commands configured there",
  },
  {
    matches: (parts) => [".npmrc", ".yarnrc", ".yarnrc.yml"].includes(parts.at(-1) ?? ""),
    reason: "package managers read it to decide which scripts and shells to run",
  },
  {
    matches: (parts) => parts.includes(".devcontainer"),
    reason: "dev container configs run commands on the host",
  },
  { matches: (parts) => parts.at(-1) === ".mcp.json", reason: "MCP clients start the servers it lists" },
  {
    matches: (parts) => parts.includes(".claude"),
    reason: "Claude Code runs hooks and MCP servers from .claude",
  },
  { matches: (parts) => parts.includes(".cursor"), reason: "Cursor runs MCP servers and rules from .cursor" },
  { matches: (parts) => parts.includes(".husky"), reason: "husky git hooks run on the host" },
  {
    matches: (parts) => parts.at(-1) === ".pre-commit-config.yaml",
    reason: "pre-commit runs the hooks it lists on the host",
  },
  {
    matches: (parts) =>
      [
        ".bashrc",
        ".bash_profile",
        ".bash_login",
        ".bash_logout",
        ".profile",
        ".zshrc",
        ".zshenv",
        ".zprofile",
        ".zlogin",
        ".cshrc",
        ".tcshrc",
      ].includes(parts.at(-1) ?? ""),
    reason: "shells run their rc files on the host",
  },
];

/**
 * The changes that must wait for a person by default: files that run code on the host later,
 * `package.json` files whose scripts change, symlinks that point out of the workspace, and
 * devices, FIFOs and sockets (which are never applied).
 */
export function needsPerson(changeSet: ChangeSet, layer: WorkspaceLayer): NeedsPerson[] {
  const held: NeedsPerson[] = [];
  for (const change of changeSet.changes) {
    const reason = reasonToHold(change, layer);
    if (reason !== null) held.push({ path: change.path, reason });
  }
  return held;
}

function reasonToHold(change: FileChange, layer: WorkspaceLayer): string | null {
  const parts = change.path.split("/");
  for (const rule of hostExecutedRules) if (rule.matches(parts)) return rule.reason;
  if (change.after.type === "special") return "devices, FIFOs and sockets are never applied";
  if (change.after.type === "symlink" && pointsOutside(change.path, change.after.target))
    return `symlink to ${change.after.target}, outside the workspace`;
  if (parts.at(-1) === "package.json" && change.kind !== "deleted" && scriptsChanged(change, layer))
    return "package.json scripts run on the host (npm install, npm test)";
  return null;
}

function pointsOutside(relativePath: string, target: string): boolean {
  if (path.isAbsolute(target)) return true;
  const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(relativePath), target));
  return resolved === ".." || resolved.startsWith("../");
}

function scriptsChanged(change: FileChange, layer: WorkspaceLayer): boolean {
  const read = (root: string) => {
    try {
      const manifest = JSON.parse(readFileNoFollow(root, change.path).toString("utf8")) as unknown;
      const scripts = (manifest as { scripts?: unknown } | null)?.scripts;
      return JSON.stringify(scripts ?? null);
    } catch {
      // Unreadable or not JSON: a person decides (npm may still read it).
      return undefined;
    }
  };
  const after = read(layer.upper);
  if (after === undefined) return true;
  if (change.kind === "added") return after !== "null";
  const before = read(layer.workspace);
  return before === undefined || before !== after;
}
