import type { ChangeSetAnswer, ChangeSetListing } from "../../server/change-set-service.js";
import { dataDirFrom, reviewerName } from "../common-options.js";
import { connectAsOperator } from "../daemon-connection.js";
import { printJsonLine, printLine } from "../output.js";
import type { ChangesOptions } from "./changes.js";
import { printChangeSetAnswer } from "./changes-output.js";

interface ShownChangeSet extends ChangeSetListing {
  facts: unknown;
  needsPersonReasons: { path: string; reason: string }[];
  changes: { path: string; kind: string; diff?: string; binary?: boolean; before: unknown; after: unknown }[];
  conflicts?: { path: string; reason: string }[];
}

export async function runChanges(
  name: "list" | "show" | "apply" | "discard",
  changeSetId: string | undefined,
  options: ChangesOptions,
): Promise<number> {
  const client = await connectAsOperator(dataDirFrom(options));
  try {
    if (name === "list") {
      const listing = await client.call<ChangeSetListing[]>("changes-list");
      if (options.json) for (const item of listing) printJsonLine(item);
      else if (listing.length === 0) printLine("no change sets");
      else
        for (const item of listing)
          printLine(
            `${item.changeSetId}  ${item.status}${item.held ? " (held)" : ""}  +${item.added} ~${item.modified} -${item.deleted}${item.needsPerson ? "  needs a person" : ""}  ${item.workspace}`,
          );
      return 0;
    }
    if (name === "show") {
      const shown = await client.call<ShownChangeSet>("changes-show", { changeSetId });
      if (options.json) {
        printJsonLine(shown);
        return 0;
      }
      const reasons = new Map(shown.needsPersonReasons.map((item) => [item.path, item.reason]));
      printLine(`change set ${shown.changeSetId}: ${shown.status}${shown.held ? ", held for a person" : ""}`);
      printLine(`workspace ${shown.workspace} (session ${shown.sandboxSessionId})`);
      for (const change of shown.changes) {
        const reason = reasons.get(change.path);
        printLine(
          `${change.kind.padEnd(8)} ${change.path}${change.binary ? " (binary)" : ""}${reason ? `  [needs a person: ${reason}]` : ""}`,
        );
      }
      for (const conflict of shown.conflicts ?? [])
        printLine(`conflict ${conflict.path}: ${conflict.reason}`);
      for (const change of shown.changes) if (change.diff) process.stdout.write(change.diff);
      return 0;
    }
    const answer =
      name === "apply"
        ? await client.call<ChangeSetAnswer>("changes-apply", { changeSetId, reviewer: reviewerName() })
        : await client.call<ChangeSetAnswer>("changes-discard", {
            changeSetId,
            reviewer: reviewerName(),
            ...(options.reason ? { reason: options.reason } : {}),
          });
    if (options.json) printJsonLine(answer);
    else printChangeSetAnswer(answer, { diffs: false, write: (text) => process.stdout.write(text) });
    // Refused on conflict: a check failed.
    return answer.outcome === "refused" ? 1 : 0;
  } finally {
    client.close();
  }
}
