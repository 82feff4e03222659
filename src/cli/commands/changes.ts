import type { Command } from "commander";
import { dataDirOption, jsonOption } from "../common-options.js";

export interface ChangesOptions {
  dataDir?: string;
  json?: boolean;
  reason?: string;
}

export function registerChanges(program: Command): void {
  const changes = program
    .command("changes")
    .description("sandbox change sets staged by `warden exec` and sandbox-mcp: list, show, apply, discard")
    .addHelpText(
      "after",
      [
        "",
        "Applying is all-or-nothing: it refuses, naming the files, if any touched path changed in the",
        "workspace since the session touched it, and it never writes through links. Applying a held",
        "change set approves its hold in the approval queue (a two-person rule still needs two).",
        "",
        "Example:",
        "  warden changes list",
        "  warden changes show 01JCHANGESET",
        "  warden changes apply 01JCHANGESET",
      ].join("\n"),
    );
  const action =
    (name: "list" | "show" | "apply" | "discard") =>
    async (first: string | ChangesOptions, second?: ChangesOptions) => {
      const { runChanges } = await import("./changes-action.js");
      const [id, options] = typeof first === "string" ? [first, second ?? {}] : [undefined, first];
      process.exitCode = await runChanges(name, id, options);
    };
  changes
    .command("list")
    .addHelpText("after", "\nExample:\n  warden changes list --json")
    .description("staged change sets, newest first")
    .addOption(dataDirOption())
    .addOption(jsonOption())
    .action(action("list"));
  changes
    .command("show")
    .addHelpText("after", "\nExample:\n  warden changes show cs_01J8ZQ")
    .description("one change set: every change with its unified diff, and its facts")
    .argument("<id>", "the change set id")
    .addOption(dataDirOption())
    .addOption(jsonOption())
    .action(action("show"));
  changes
    .command("apply")
    .addHelpText("after", "\nExample:\n  warden changes apply cs_01J8ZQ")
    .description("apply a staged change set to the workspace (all or nothing)")
    .argument("<id>", "the change set id")
    .addOption(dataDirOption())
    .addOption(jsonOption())
    .action(action("apply"));
  changes
    .command("discard")
    .addHelpText("after", '\nExample:\n  warden changes discard cs_01J8ZQ --reason "touches CI config"')
    .description("drop a staged change set")
    .argument("<id>", "the change set id")
    .option("--reason <text>", "why (recorded in the log)")
    .addOption(dataDirOption())
    .addOption(jsonOption())
    .action(action("discard"));
}
