import { createTwoFilesPatch } from "diff";

/** Files larger than this get no textual diff (the change still lists sizes and hashes). */
const maximumDiffBytes = 1024 * 1024;

/**
 * A unified diff (`diff -u` format) of two versions of a text file, by jsdiff (the `diff` npm
 * package). Returns null when either side is binary (contains a NUL byte) or too large.
 */
export function unifiedDiff(relativePath: string, oldContent: Buffer, newContent: Buffer): string | null {
  if (oldContent.length > maximumDiffBytes || newContent.length > maximumDiffBytes) return null;
  if (oldContent.includes(0) || newContent.includes(0)) return null;
  return createTwoFilesPatch(
    `a/${relativePath}`,
    `b/${relativePath}`,
    oldContent.toString("utf8"),
    newContent.toString("utf8"),
    undefined,
    undefined,
    { context: 3 },
  );
}
