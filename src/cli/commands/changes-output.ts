import type { ChangeSetAnswer } from "../../server/change-set-service.js";

/** What became of a change set, on stderr (stdout belongs to the sandboxed command). */
export function printChangeSetAnswer(
  answer: ChangeSetAnswer,
  options: { diffs: boolean; write?: (text: string) => void },
): void {
  const write = options.write ?? ((text: string) => process.stderr.write(text));
  const say = (text: string) => write(`warden: ${text}\n`);
  if (answer.outcome === "empty") {
    say("no changes to the workspace");
    return;
  }
  say(
    `change set ${answer.changeSetId} (session ${answer.sandboxSessionId}): ${answer.changes.length} changes`,
  );
  for (const change of answer.changes)
    say(
      `  ${change.kind.padEnd(8)} ${change.path} (${change.describe}${change.binary ? ", binary" : ""})${change.needsPerson ? `  [needs a person: ${change.needsPerson}]` : ""}`,
    );
  if (options.diffs) for (const change of answer.changes) if (change.diff) write(change.diff);
  const rule = answer.ruleId ? ` (rule ${answer.ruleId})` : "";
  switch (answer.outcome) {
    case "applied":
      say(`applied ${answer.changes.length} changes${rule}`);
      break;
    case "discarded":
      say(`discarded the change set${rule}${answer.reason ? `: ${answer.reason}` : ""}`);
      break;
    case "held":
      say(
        answer.approvalsNeeded
          ? `approval recorded; ${answer.approvalsNeeded} more reviewer(s) needed`
          : `held for a person${rule}; nothing applied. \`warden changes show ${answer.changeSetId}\`, then \`warden changes apply|discard ${answer.changeSetId}\``,
      );
      break;
    case "refused":
      say("applied nothing: these paths changed in the workspace or cannot be applied:");
      for (const conflict of answer.conflicts ?? []) say(`  ${conflict.path}: ${conflict.reason}`);
      say(`the change set stays staged: \`warden changes apply ${answer.changeSetId}\` after resolving`);
      break;
  }
}
