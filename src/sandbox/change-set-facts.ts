import type { ChangeSet, NeedsPerson, PathState } from "./change-set.js";

/**
 * What a rule condition reads about a change set, as `tool.arguments` of the call
 * `sandbox`/`change-set`. Counts and sizes are plain numbers (CEL doubles).
 *
 * @example
 * // constitution rule: hold change sets that delete anything or write large files
 * // when: 'tool.server == "sandbox" && (tool.arguments.deleted > 0 || tool.arguments.largestFileBytes > 1048576.0)'
 */
export interface ChangeSetFacts {
  changeSetId: string;
  sandboxSessionId: string;
  workspace: string;
  /** Every path touched, workspace-relative. */
  paths: string[];
  added: number;
  modified: number;
  deleted: number;
  /** Bytes of the files as the change set leaves them (added and modified files). */
  totalBytes: number;
  largestFileBytes: number;
  /** Kinds of what the change set leaves at each path (`absent` for deletions). */
  kinds: Record<string, PathState["type"]>;
  /** File name extensions written (`.ts`, `.sh`; `""` for none). */
  extensions: string[];
  binaryFiles: number;
  /** Whether any path is one Warden holds for a person by default (hooks, rc files, ...). */
  needsPerson: boolean;
  needsPersonPaths: string[];
}

export function changeSetFacts(changeSet: ChangeSet, needsPerson: readonly NeedsPerson[]): ChangeSetFacts {
  const counts = { added: 0, modified: 0, deleted: 0 };
  let totalBytes = 0;
  let largestFileBytes = 0;
  let binaryFiles = 0;
  const kinds: Record<string, PathState["type"]> = {};
  const extensions = new Set<string>();
  for (const change of changeSet.changes) {
    counts[change.kind]++;
    kinds[change.path] = change.after.type;
    if (change.binary) binaryFiles++;
    if (change.after.type === "file") {
      totalBytes += change.after.size;
      largestFileBytes = Math.max(largestFileBytes, change.after.size);
      const name = change.path.split("/").at(-1) ?? "";
      const dot = name.lastIndexOf(".");
      extensions.add(dot > 0 ? name.slice(dot) : "");
    }
  }
  return {
    changeSetId: changeSet.id,
    sandboxSessionId: changeSet.sessionId,
    workspace: changeSet.workspace,
    paths: changeSet.changes.map((change) => change.path),
    ...counts,
    totalBytes,
    largestFileBytes,
    kinds,
    extensions: [...extensions].sort(),
    binaryFiles,
    needsPerson: needsPerson.length > 0,
    needsPersonPaths: needsPerson.map((item) => item.path),
  };
}
