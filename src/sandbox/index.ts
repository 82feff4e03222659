export type { ApplyConflict, ApplyResult } from "./apply-change-set.js";
export { applyChangeSet } from "./apply-change-set.js";
export type { ChangeKind, ChangeSet, FileChange, NeedsPerson, PathState } from "./change-set.js";
export { describeState } from "./change-set.js";
export type { ChangeSetFacts } from "./change-set-facts.js";
export { changeSetFacts } from "./change-set-facts.js";
export { type DecoyFile, decoyDirectory, listDecoyPaths, plantSandboxDecoys } from "./decoy-layer.js";
export { maximumWriteBytes, writeFileCommand } from "./file-commands.js";
export { findBubblewrap } from "./find-bubblewrap.js";
export type { CapturedOutput, SandboxRunResult } from "./run-in-sandbox.js";
export { SandboxUnavailableError } from "./sandbox-error.js";
export type { SandboxLimits } from "./sandbox-limits.js";
export { defaultSandboxLimits } from "./sandbox-limits.js";
export type {
  SandboxCommandOptions,
  SandboxCommandResult,
  SandboxExecution,
  SandboxSession,
  SandboxSessionOptions,
} from "./sandbox-session.js";
export { openSandboxSession } from "./sandbox-session.js";
