import { randomBytes } from "node:crypto";
import {
  lstatSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmdirSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import type { ChangeSet, FileChange } from "./change-set.js";
import { describeState } from "./change-set.js";
import { readPathState, sameState, sha256 } from "./path-state.js";
import { isSafeRelativePath, lstatInside, readFileNoFollow } from "./safe-paths.js";
import type { WorkspaceLayer } from "./workspace-layer.js";

export interface ApplyConflict {
  path: string;
  reason: string;
}

export type ApplyResult =
  | { outcome: "applied"; applied: FileChange[] }
  /** Nothing was written. */
  | { outcome: "refused"; conflicts: ApplyConflict[] };

/**
 * Writes the selected changes (default: all) of a change set to the real workspace. Every check
 * runs before the first write: each touched path must still be what it was when the session
 * first touched it, no parent may be a symlink (Warden never writes through links), and the
 * scratch layer must still hold what the change set describes. Files are written to a temporary
 * name and renamed into place, so a reader never sees half a file and a symlink at the target is
 * replaced, not followed. Set-uid, set-gid and sticky bits are dropped.
 */
export function applyChangeSet(
  changeSet: ChangeSet,
  layer: WorkspaceLayer,
  paths?: ReadonlySet<string>,
): ApplyResult {
  const selected = changeSet.changes.filter((change) => paths === undefined || paths.has(change.path));
  const conflicts = findConflicts(selected, layer);
  if (conflicts.length > 0) return { outcome: "refused", conflicts };

  const workspace = layer.workspace;
  const deletions = selected
    .filter((change) => change.kind === "deleted")
    .sort((left, right) => depth(right.path) - depth(left.path));
  for (const change of deletions) {
    const target = path.join(workspace, change.path);
    if (lstatSync(target).isDirectory()) rmdirSync(target);
    else unlinkSync(target);
  }
  const writes = selected
    .filter((change) => change.kind !== "deleted")
    .sort((left, right) => depth(left.path) - depth(right.path) || left.path.localeCompare(right.path));
  for (const change of writes) {
    ensureParents(workspace, change.path);
    const target = path.join(workspace, change.path);
    const { after } = change;
    if (after.type === "directory") {
      if (lstatInside(workspace, change.path) === null) mkdirSync(target, { mode: after.mode & 0o777 });
      continue;
    }
    const temporary = path.join(path.dirname(target), `.warden-apply-${randomBytes(6).toString("hex")}`);
    if (after.type === "file") {
      writeFileSync(temporary, readFileNoFollow(layer.upper, change.path), {
        flag: "wx",
        mode: after.mode & 0o777,
      });
    } else if (after.type === "symlink") {
      symlinkSync(after.target, temporary);
    } else continue;
    renameSync(temporary, target);
  }
  return { outcome: "applied", applied: selected };
}

function findConflicts(selected: readonly FileChange[], layer: WorkspaceLayer): ApplyConflict[] {
  const conflicts: ApplyConflict[] = [];
  const deleted = new Set(
    selected.filter((change) => change.kind === "deleted").map((change) => change.path),
  );
  const directoriesCreated = new Set(
    selected.filter((change) => change.after.type === "directory").map((change) => change.path),
  );
  for (const change of selected) {
    if (!isSafeRelativePath(change.path)) {
      conflicts.push({ path: change.path, reason: "not a path inside the workspace" });
      continue;
    }
    const linkedParent = parentThatIsNotADirectory(layer.workspace, change.path, deleted, directoriesCreated);
    if (linkedParent !== null) {
      conflicts.push({
        path: change.path,
        reason: `${linkedParent} is a symlink or file in the workspace; Warden never writes through links`,
      });
      continue;
    }
    if (change.after.type === "special" || change.after.type === "changed-during-command") {
      conflicts.push({ path: change.path, reason: `cannot apply a ${describeState(change.after)}` });
      continue;
    }
    // A replaced path (deleted, then added as another kind) is checked by its deletion.
    if (!(change.kind === "added" && deleted.has(change.path))) {
      const current = readPathState(layer.workspace, change.path);
      if (change.before.type === "changed-during-command")
        conflicts.push({ path: change.path, reason: "it changed in the workspace while the command ran" });
      else if (!sameState(current, change.before))
        conflicts.push({
          path: change.path,
          reason: `it changed in the workspace since the session touched it (was ${describeState(change.before)}, now ${describeState(current)})`,
        });
      else if (change.kind === "deleted" && current.type === "directory") {
        const extra = readdirSync(path.join(layer.workspace, change.path)).filter(
          (name) => !deleted.has(`${change.path}/${name}`),
        );
        if (extra.length > 0)
          conflicts.push({
            path: change.path,
            reason: `it now holds ${extra.join(", ")}, which the change set does not delete`,
          });
      }
    }
    if (change.after.type === "file") {
      const content = lstatInside(layer.upper, change.path)?.isFile()
        ? readFileNoFollow(layer.upper, change.path)
        : null;
      if (content === null || sha256(content) !== change.after.sha256)
        conflicts.push({
          path: change.path,
          reason: "the sandbox layer changed since this change set was captured",
        });
    }
  }
  return conflicts;
}

/** The first parent component that exists and is not a real directory (and is not being replaced by one). */
function parentThatIsNotADirectory(
  workspace: string,
  relative: string,
  deleted: ReadonlySet<string>,
  directoriesCreated: ReadonlySet<string>,
): string | null {
  const parts = relative.split("/");
  for (let index = 1; index < parts.length; index++) {
    const parent = parts.slice(0, index).join("/");
    const stat = lstatInside(workspace, parent);
    if (stat === null || stat.isDirectory()) continue;
    if (deleted.has(parent) && directoriesCreated.has(parent)) continue;
    return parent;
  }
  return null;
}

function ensureParents(workspace: string, relative: string): void {
  const parts = relative.split("/");
  for (let index = 1; index < parts.length; index++) {
    const parent = parts.slice(0, index).join("/");
    const stat = lstatInside(workspace, parent);
    if (stat === null) mkdirSync(path.join(workspace, parent), { mode: 0o755 });
    else if (!stat.isDirectory())
      throw new Error(`${parent} is not a directory; refusing to write through it`);
  }
}

function depth(relative: string): number {
  return relative.split("/").length;
}
