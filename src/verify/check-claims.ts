import type { Claim, ClaimCheck } from "./claim.js";
import {
  type ChangeKind,
  type CommandRun,
  type FileChangeEvidence,
  type SessionEvidence,
  samePathAs,
} from "./session-evidence.js";
import {
  parseTestOutput,
  recognisedBuildCommand,
  recognisedDeployCommand,
  recognisedTestCommand,
  type TestSummary,
} from "./test-runner-output.js";

const maximumMemoised = 1000;

/** A command-string predicate that recognises each distinct command once. */
function memoised(recognise: (command: string) => boolean): (run: CommandRun) => boolean {
  const known = new Map<string, boolean>();
  return (run) => {
    let value = known.get(run.command);
    if (value === undefined) {
      value = recognise(run.command);
      if (known.size >= maximumMemoised) known.clear();
      known.set(run.command, value);
    }
    return value;
  };
}

const acceptedChanges: Record<"file-created" | "file-changed" | "file-deleted", ChangeKind[]> = {
  "file-deleted": ["deleted"],
  "file-created": ["created", "written"],
  "file-changed": ["created", "modified", "written"],
};

const isTestRun = memoised((command) => recognisedTestCommand(command) !== null);
const isBuildRun = memoised(recognisedBuildCommand);
const isDeployRun = memoised(recognisedDeployCommand);

let lastOutput: { output: string; summary: TestSummary | null } | undefined;
/** The runner summary of a run's output; the same output is parsed once in a row. */
function summaryOf(output: string): TestSummary | null {
  if (lastOutput?.output !== output) lastOutput = { output, summary: parseTestOutput(output) };
  return lastOutput.summary;
}

/**
 * Checks one claim against the record of its session up to the message that makes it.
 * Evidence is what Warden recorded: exit codes, runner summaries from recognised runner
 * commands, file changes. A run only covers changes made before it.
 */
export function checkClaim(claim: Claim, evidence: SessionEvidence): ClaimCheck {
  const lastChange = evidence.changes.at(-1);
  const verdict = (
    value: ClaimCheck["verdict"],
    reason: string,
    events: (string | undefined)[] = [],
  ): ClaimCheck => ({
    claim,
    verdict: value,
    reason,
    evidenceEventIds: events.filter((id): id is string => id !== undefined),
  });
  const judgeRuns = (last: CommandRun | undefined, what: string, summarise: boolean): ClaimCheck => {
    if (last === undefined) return verdict("unverifiable", `no recognised ${what} command was recorded`);
    const summary = summarise ? summaryOf(last.output) : null;
    if ((last.exitCode !== null && last.exitCode !== 0) || (summary !== null && summary.failed > 0)) {
      return verdict(
        "contradicted",
        `the last ${what} run (\`${last.command}\`) failed: ${summary !== null && summary.failed > 0 ? `${summary.failed} failed, ` : ""}exit code ${last.exitCode ?? "unknown"}`,
        [last.eventId],
      );
    }
    if (lastChange !== undefined && lastChange.seq > last.seq) {
      return verdict(
        "unverifiable",
        `the last ${what} run came before the last change (${lastChange.path})`,
        [last.eventId, lastChange.eventId],
      );
    }
    if (last.exitCode === null)
      return verdict("unverifiable", `the ${what} run's exit code was not recorded`, [last.eventId]);
    if (summarise && summary !== null && summary.passed === 0) {
      return verdict("unverifiable", `the ${what} run ran no test`, [last.eventId]);
    }
    return verdict(
      "supported",
      `\`${last.command}\` exited 0${summary ? ` (${summary.runner}: ${summary.passed} passed)` : ""}`,
      [last.eventId],
    );
  };

  switch (claim.kind) {
    case "tests-pass":
      return judgeRuns(evidence.commands.findLast(isTestRun), "test", true);
    case "build-succeeded":
      return judgeRuns(evidence.commands.findLast(isBuildRun), "build", false);
    case "deployed":
      return judgeRuns(evidence.commands.findLast(isDeployRun), "deploy", false);
    case "command-ran": {
      const wanted = (claim.subject ?? "").replace(/\s+/g, " ").trim();
      const run = evidence.commands.findLast((item) => item.command.replace(/\s+/g, " ").includes(wanted));
      if (run !== undefined) return verdict("supported", `\`${run.command}\` was run`, [run.eventId]);
      if (evidence.commands.length > 0)
        return verdict("contradicted", `no recorded command matches \`${wanted}\``);
      return verdict("unverifiable", "no command was recorded in this session");
    }
    case "file-created":
    case "file-changed":
    case "file-deleted": {
      const subject = claim.subject ?? "";
      const accepted = acceptedChanges[claim.kind];
      const names = samePathAs(subject);
      let other: FileChangeEvidence | undefined;
      for (let index = evidence.changes.length - 1; index >= 0; index--) {
        const change = evidence.changes[index]!;
        if (!names(change.path)) continue;
        if (accepted.includes(change.kind))
          return verdict("supported", `${change.path} was ${change.kind}`, [change.eventId]);
        other ??= change;
      }
      if (other !== undefined) {
        return verdict(
          "contradicted",
          `${other.path} was ${other.kind}, not ${claim.kind.slice("file-".length)}`,
          [other.eventId],
        );
      }
      if (evidence.changeSetRecorded || evidence.changes.length > 0) {
        return verdict(
          "contradicted",
          `the recorded changes do not include ${subject}`,
          evidence.changes.slice(-3).map((change) => change.eventId),
        );
      }
      return verdict("unverifiable", "no file change was recorded in this session");
    }
    case "file-unchanged": {
      const subject = claim.subject ?? "";
      const names = samePathAs(subject);
      const change = evidence.changes.findLast((item) => names(item.path));
      if (change !== undefined)
        return verdict("contradicted", `${change.path} was ${change.kind}`, [change.eventId]);
      if (evidence.changeSetRecorded)
        return verdict("supported", `the recorded change set does not touch ${subject}`);
      return verdict("unverifiable", "no complete change set was recorded");
    }
    case "task-complete": {
      for (const [what, isRun] of [
        ["test", isTestRun],
        ["build", isBuildRun],
      ] as const) {
        const last = evidence.commands.findLast(isRun);
        const summary = last ? summaryOf(last.output) : null;
        if (last && ((last.exitCode !== null && last.exitCode !== 0) || (summary?.failed ?? 0) > 0)) {
          return verdict("contradicted", `the last ${what} run (\`${last.command}\`) failed`, [last.eventId]);
        }
      }
      return verdict(
        "unverifiable",
        "whether the task is complete is for a reviewer or the auditor; no recorded run failed",
      );
    }
  }
}
