import { type Dirent, readdirSync } from "node:fs";
import path from "node:path";
import type { ChangeSet, FileChange, PathState } from "./change-set.js";
import { listMergedDirectories } from "./list-merged-directories.js";
import { readPathState, sameState } from "./path-state.js";
import { lstatInside, readFileNoFollow } from "./safe-paths.js";
import { unifiedDiff } from "./unified-diff.js";
import type { WorkspaceLayer } from "./workspace-layer.js";

export interface CaptureChangeSetOptions {
  bubblewrap: string;
  layer: WorkspaceLayer;
  changeSetId: string;
  /** What the workspace held when the session first touched each path (from earlier commands). */
  baseStates: ReadonlyMap<string, PathState>;
  /**
   * The ctime (ns) of a marker file written just before the last command started. A path first
   * touched by that command whose real copy has a later ctime changed while the command ran:
   * its base is unknown, so applying it is a conflict. The marker's ctime comes from the same
   * kernel clock as the workspace's (not from Date.now(), which the coarse file clock lags),
   * and reading it makes later changes get strictly later stamps on kernels with multigrain
   * timestamps (6.13+); on older kernels a change in the same clock tick as the start is missed.
   */
  commandStartedAtCtimeNs?: bigint;
}

type UpperKind = "whiteout" | "file" | "symlink" | "directory" | "special";

/**
 * Reads the session's scratch layer (overlayfs upper directory) against the real workspace and
 * returns the cumulative change set. Whiteouts (character devices 0:0) are deletions; entries of
 * lower directories hidden by an opaque upper directory are deletions too.
 */
export async function captureChangeSet(options: CaptureChangeSetOptions): Promise<ChangeSet> {
  const { layer } = options;
  const upperEntries = new Map<string, UpperKind>();
  walkUpper(layer.upper, "", upperEntries);

  const ambiguous: string[] = [];
  for (const [relative, kind] of upperEntries) {
    if (kind !== "directory") continue;
    if (!lstatInside(layer.workspace, relative)?.isDirectory()) continue;
    const upperNames = new Set(readdirSync(path.join(layer.upper, relative)));
    if (readdirSync(path.join(layer.workspace, relative)).some((name) => !upperNames.has(name)))
      ambiguous.push(relative);
  }
  const merged =
    ambiguous.length > 0
      ? await listMergedDirectories(options.bubblewrap, layer, ambiguous)
      : new Map<string, Set<string>>();

  const changes: FileChange[] = [];
  const before = (relative: string) => baseState(options, relative);
  const deleteSubtree = (relative: string) => {
    const stat = lstatInside(layer.workspace, relative);
    if (stat?.isDirectory())
      for (const name of readdirSync(path.join(layer.workspace, relative)).sort())
        deleteSubtree(`${relative}/${name}`);
    if (stat !== null)
      changes.push(
        withDiff(layer, {
          path: relative,
          kind: "deleted",
          before: before(relative),
          after: { type: "absent" },
        }),
      );
  };

  for (const relative of [...upperEntries.keys()].sort()) {
    const kind = upperEntries.get(relative);
    const lower = lstatInside(layer.workspace, relative);
    if (kind === "whiteout") {
      if (lower !== null) deleteSubtree(relative);
      continue;
    }
    if (kind === "directory") {
      if (lower?.isDirectory()) {
        const names = merged.get(relative);
        if (names !== undefined)
          for (const name of readdirSync(path.join(layer.workspace, relative)).sort())
            if (!names.has(name) && !upperEntries.has(`${relative}/${name}`))
              deleteSubtree(`${relative}/${name}`);
        continue;
      }
      if (lower !== null) deleteSubtree(relative);
      const after = readPathState(layer.upper, relative);
      changes.push({
        path: relative,
        kind: "added",
        before: lower === null ? before(relative) : { type: "absent" },
        after,
      });
      continue;
    }
    const after: PathState = kind === "special" ? { type: "special" } : readPathState(layer.upper, relative);
    if (lower?.isDirectory()) {
      deleteSubtree(relative);
      changes.push(withDiff(layer, { path: relative, kind: "added", before: { type: "absent" }, after }));
      continue;
    }
    const current = readPathState(layer.workspace, relative);
    if (current.type === "absent") {
      changes.push(withDiff(layer, { path: relative, kind: "added", before: before(relative), after }));
      continue;
    }
    if (sameState(current, after)) continue;
    changes.push(withDiff(layer, { path: relative, kind: "modified", before: before(relative), after }));
  }
  return { id: options.changeSetId, sessionId: layer.sessionId, workspace: layer.workspace, changes };
}

function baseState(options: CaptureChangeSetOptions, relative: string): PathState {
  const known = options.baseStates.get(relative);
  if (known !== undefined) return known;
  const { workspace } = options.layer;
  const startedAt = options.commandStartedAtCtimeNs;
  if (
    startedAt !== undefined &&
    (lstatInside(workspace, relative, { bigint: true })?.ctimeNs ?? 0n) > startedAt
  )
    return { type: "changed-during-command" };
  return readPathState(workspace, relative);
}

function walkUpper(upper: string, relative: string, into: Map<string, UpperKind>): void {
  const directory = relative === "" ? upper : path.join(upper, relative);
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const child = relative === "" ? entry.name : `${relative}/${entry.name}`;
    const kind = upperKind(entry, path.join(directory, entry.name));
    into.set(child, kind);
    if (kind === "directory") walkUpper(upper, child, into);
  }
}

function upperKind(entry: Dirent, fullPath: string): UpperKind {
  if (entry.isDirectory()) return "directory";
  if (entry.isFile()) return "file";
  if (entry.isSymbolicLink()) return "symlink";
  if (entry.isCharacterDevice()) {
    // overlayfs whiteout: a character device with device number 0:0.
    const stat = lstatInside(path.dirname(fullPath), path.basename(fullPath));
    if (stat?.rdev === 0) return "whiteout";
  }
  return "special";
}

function withDiff(layer: WorkspaceLayer, change: FileChange): FileChange {
  const { before, after } = change;
  if (before.type !== "file" && after.type !== "file") return change;
  const oldContent =
    change.kind !== "added" && lstatInside(layer.workspace, change.path)?.isFile()
      ? readFileNoFollow(layer.workspace, change.path)
      : Buffer.alloc(0);
  const newContent = after.type === "file" ? readFileNoFollow(layer.upper, change.path) : Buffer.alloc(0);
  const diff = unifiedDiff(change.path, oldContent, newContent);
  return diff === null ? { ...change, binary: true } : { ...change, diff };
}
