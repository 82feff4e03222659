import {
  type BigIntStats,
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readFileSync,
  readlinkSync,
  type Stats,
} from "node:fs";
import path from "node:path";

/**
 * Workspace-relative paths are `/`-separated, non-empty, and contain no `.` or `..`
 * components. Anything else is refused before it is joined to a directory.
 */
export function isSafeRelativePath(relative: string): boolean {
  if (relative === "" || relative.startsWith("/") || relative.includes("\0")) return false;
  return relative.split("/").every((part) => part !== "" && part !== "." && part !== "..");
}

/**
 * `lstat` of `root/relative` that never follows a symlink, including in the parent components:
 * if any parent is not a real directory the path is treated as absent (it cannot exist inside
 * the tree without leaving it).
 */
export function lstatInside(root: string, relative: string): Stats | null;
export function lstatInside(root: string, relative: string, options: { bigint: true }): BigIntStats | null;
export function lstatInside(
  root: string,
  relative: string,
  options?: { bigint: true },
): Stats | BigIntStats | null {
  if (!isSafeRelativePath(relative)) throw new Error(`unsafe path: ${JSON.stringify(relative)}`);
  const parts = relative.split("/");
  let current = root;
  for (const [index, part] of parts.entries()) {
    current = path.join(current, part);
    let stat: Stats | BigIntStats;
    try {
      stat = options?.bigint ? lstatSync(current, { bigint: true }) : lstatSync(current);
    } catch {
      return null;
    }
    if (index === parts.length - 1) return stat;
    if (!stat.isDirectory()) return null;
  }
  return null;
}

/** Reads a regular file without following a final symlink (parents are checked by `lstatInside`). */
export function readFileNoFollow(root: string, relative: string): Buffer {
  const stat = lstatInside(root, relative);
  if (!stat?.isFile()) throw new Error(`not a regular file: ${relative}`);
  const descriptor = openSync(path.join(root, relative), constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    if (!fstatSync(descriptor).isFile()) throw new Error(`not a regular file: ${relative}`);
    return readFileSync(descriptor);
  } finally {
    closeSync(descriptor);
  }
}

export function readLinkInside(root: string, relative: string): string {
  const stat = lstatInside(root, relative);
  if (!stat?.isSymbolicLink()) throw new Error(`not a symlink: ${relative}`);
  return readlinkSync(path.join(root, relative));
}
