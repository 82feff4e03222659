import type { Claim, ClaimCheck } from "./claim.js";
import { type CommandRun, type SessionEvidence, samePath } from "./session-evidence.js";
import {
  parseTestOutput,
  recognisedBuildCommand,
  recognisedDeployCommand,
  recognisedTestCommand,
} from "./test-runner-output.js";

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
  const judgeRuns = (runs: CommandRun[], what: string, summarise: boolean): ClaimCheck => {
    const last = runs.at(-1);
    if (last === undefined) return verdict("unverifiable", `no recognised ${what} command was recorded`);
    const summary = summarise ? parseTestOutput(last.output) : null;
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
      return judgeRuns(
        evidence.commands.filter((run) => recognisedTestCommand(run.command) !== null),
        "test",
        true,
      );
    case "build-succeeded":
      return judgeRuns(
        evidence.commands.filter((run) => recognisedBuildCommand(run.command)),
        "build",
        false,
      );
    case "deployed":
      return judgeRuns(
        evidence.commands.filter((run) => recognisedDeployCommand(run.command)),
        "deploy",
        false,
      );
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
      const changes = evidence.changes.filter((change) => samePath(change.path, subject));
      const accepted =
        claim.kind === "file-deleted"
          ? ["deleted"]
          : claim.kind === "file-created"
            ? ["created", "written"]
            : ["created", "modified", "written"];
      const matching = changes.findLast((change) => accepted.includes(change.kind));
      if (matching !== undefined)
        return verdict("supported", `${matching.path} was ${matching.kind}`, [matching.eventId]);
      if (changes.length > 0) {
        const other = changes.at(-1)!;
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
      const change = evidence.changes.findLast((item) => samePath(item.path, subject));
      if (change !== undefined)
        return verdict("contradicted", `${change.path} was ${change.kind}`, [change.eventId]);
      if (evidence.changeSetRecorded)
        return verdict("supported", `the recorded change set does not touch ${subject}`);
      return verdict("unverifiable", "no complete change set was recorded");
    }
    case "task-complete": {
      for (const [what, runs] of [
        ["test", evidence.commands.filter((run) => recognisedTestCommand(run.command) !== null)],
        ["build", evidence.commands.filter((run) => recognisedBuildCommand(run.command))],
      ] as const) {
        const last = runs.at(-1);
        const summary = last ? parseTestOutput(last.output) : null;
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
