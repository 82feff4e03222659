import { createHash } from "node:crypto";
import type { PathState } from "./change-set.js";
import { lstatInside, readFileNoFollow, readLinkInside } from "./safe-paths.js";

/** What `root/relative` holds now, never following links. */
export function readPathState(root: string, relative: string): PathState {
  const stat = lstatInside(root, relative);
  if (stat === null) return { type: "absent" };
  if (stat.isSymbolicLink()) return { type: "symlink", target: readLinkInside(root, relative) };
  if (stat.isDirectory()) return { type: "directory", mode: stat.mode & 0o7777 };
  if (stat.isFile()) {
    const content = readFileNoFollow(root, relative);
    return { type: "file", sha256: sha256(content), size: content.length, mode: stat.mode & 0o7777 };
  }
  return { type: "special" };
}

export function sha256(content: Buffer): string {
  return createHash("sha256").update(content).digest("hex");
}

export function sameState(left: PathState, right: PathState): boolean {
  if (left.type !== right.type) return false;
  switch (left.type) {
    case "file":
      return right.type === "file" && left.sha256 === right.sha256 && left.mode === right.mode;
    case "symlink":
      return right.type === "symlink" && left.target === right.target;
    case "directory":
      return true;
    case "changed-during-command":
      return false;
    default:
      return true;
  }
}
