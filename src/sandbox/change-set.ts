/**
 * What a path looked like: in the real workspace when the session first touched it (`before`),
 * or in the session's scratch layer (`after`).
 */
export type PathState =
  | { type: "absent" }
  | { type: "file"; sha256: string; size: number; mode: number }
  | { type: "symlink"; target: string }
  | { type: "directory"; mode: number }
  /** A device, FIFO or socket: never applied. */
  | { type: "special" }
  /** The real file changed while the command that touched it ran: applying it is a conflict. */
  | { type: "changed-during-command" };

export type ChangeKind = "added" | "modified" | "deleted";

export interface FileChange {
  /** Relative to the workspace, `/`-separated. */
  path: string;
  kind: ChangeKind;
  before: PathState;
  after: PathState;
  /** Unified diff for text files; absent for binary files, symlinks and directories. */
  diff?: string;
  binary?: boolean;
}

/** The cumulative difference between a session's scratch layer and the workspace it started from. */
export interface ChangeSet {
  id: string;
  sessionId: string;
  workspace: string;
  changes: FileChange[];
}

/** Why a change must wait for a person before it reaches the real workspace. */
export interface NeedsPerson {
  path: string;
  reason: string;
}

export function describeState(state: PathState): string {
  switch (state.type) {
    case "absent":
      return "absent";
    case "file":
      return `file ${state.size} bytes, mode ${state.mode.toString(8)}`;
    case "symlink":
      return `symlink -> ${state.target}`;
    case "directory":
      return "directory";
    case "special":
      return "device, FIFO or socket";
    case "changed-during-command":
      return "changed while the command ran";
  }
}
