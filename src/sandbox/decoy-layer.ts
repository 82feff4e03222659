import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { ChangeSet, FileChange } from "./change-set.js";
import { lstatInside } from "./safe-paths.js";
import type { WorkspaceLayer } from "./workspace-layer.js";

/** Where a session's decoys live: a read-only overlay layer between the workspace and the scratch layer. */
export function decoyDirectory(layer: WorkspaceLayer): string {
  return path.join(layer.directory, "decoys");
}

export interface DecoyFile {
  /** Relative to the workspace, `/`-separated. */
  path: string;
  content: string;
}

/**
 * Writes the decoy files into the session's decoy layer, once per session: the sandbox shows
 * them in the workspace, but they are not in the scratch layer, so no change set carries them.
 * A decoy whose path the real workspace already uses (or cannot hold) is skipped, so a decoy
 * never hides a real file. Returns the decoys planted; empty when the session has its decoys.
 */
export function plantSandboxDecoys(layer: WorkspaceLayer, files: readonly DecoyFile[]): DecoyFile[] {
  const directory = decoyDirectory(layer);
  if (existsSync(directory)) return [];
  mkdirSync(directory, { mode: 0o700 });
  const planted: DecoyFile[] = [];
  const taken = new Set<string>();
  for (const file of files) {
    const relative = file.path.split(path.sep).join("/").replace(/^\.\//, "");
    if (taken.has(relative) || !fitsWorkspace(layer.workspace, relative)) continue;
    if (!fitsDecoyLayer(directory, relative)) continue;
    mkdirSync(path.dirname(path.join(directory, relative)), { recursive: true });
    writeFileSync(path.join(directory, relative), file.content, { flag: "wx", mode: 0o600 });
    taken.add(relative);
    planted.push({ path: relative, content: file.content });
  }
  return planted;
}

/** The decoy layer's files and the directories that exist only because of them. */
export function listDecoyPaths(layer: WorkspaceLayer): { files: Set<string>; directories: Set<string> } {
  const files = new Set<string>();
  const directories = new Set<string>();
  const directory = decoyDirectory(layer);
  if (!existsSync(directory)) return { files, directories };
  const walk = (relative: string) => {
    for (const entry of readdirSync(path.join(directory, relative), { withFileTypes: true })) {
      const child = relative === "" ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) {
        if (lstatInside(layer.workspace, child) === null) directories.add(child);
        walk(child);
      } else files.add(child);
    }
  };
  walk("");
  return { files, directories };
}

/**
 * The change set without the decoys: a decoy the agent kept, edited or replaced is never staged,
 * nor a directory that only holds decoys. A copy of a decoy under another name stays (it is the
 * agent's own file, and the record of it is what the tripwire detector reads).
 */
export function withoutDecoys(changeSet: ChangeSet, layer: WorkspaceLayer): ChangeSet {
  const { files, directories } = listDecoyPaths(layer);
  if (files.size === 0) return changeSet;
  const kept = changeSet.changes.filter((change) => !files.has(change.path));
  const holdsOwnChange = (directory: FileChange) =>
    kept.some((change) => change.path.startsWith(`${directory.path}/`));
  const changes = kept.filter(
    (change) =>
      !(
        directories.has(change.path) &&
        change.kind === "added" &&
        change.after.type === "directory" &&
        !holdsOwnChange(change)
      ),
  );
  return changes.length === changeSet.changes.length ? changeSet : { ...changeSet, changes };
}

function fitsWorkspace(workspace: string, relative: string): boolean {
  const parts = relative.split("/");
  if (parts.some((part) => part === "" || part === "." || part === "..")) return false;
  if (lstatInside(workspace, relative) !== null) return false;
  // Every parent the workspace has must be a real directory (a file or link there would be hidden).
  for (let end = 1; end < parts.length; end++) {
    const stat = lstatInside(workspace, parts.slice(0, end).join("/"));
    if (stat === null) return true;
    if (!stat.isDirectory()) return false;
  }
  return true;
}

function fitsDecoyLayer(directory: string, relative: string): boolean {
  const parts = relative.split("/");
  for (let end = 1; end <= parts.length; end++) {
    const stat = lstatInside(directory, parts.slice(0, end).join("/"));
    if (stat === null) return true;
    if (end === parts.length || !stat.isDirectory()) return false;
  }
  return true;
}
