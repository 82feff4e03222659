import type { Command } from "commander";
import type { HeldCall } from "../../approvals/approval-queue.js";
import { WardenError } from "../../core/errors.js";
import { dataDirFrom, dataDirOption, jsonOption, reviewerName } from "../common-options.js";
import { connectAsOperator } from "../daemon-connection.js";
import { printJsonLine, printLine } from "../output.js";

export function registerApprovals(program: Command): void {
  const approvals = program
    .command("approvals")
    .description("review calls held for a person (acts through the daemon)")
    .addHelpText(
      "after",
      '\nExamples:\n  warden approvals list\n  warden approvals approve 01JC... --scope session\n  warden approvals deny 01JC... --reason "not during the freeze"',
    );

  approvals
    .command("list")
    .description(
      "list held calls (with replicas on PostgreSQL: every replica's, marked with the one holding it)",
    )
    .addOption(dataDirOption())
    .addOption(jsonOption())
    .action(async (options: { dataDir?: string; json?: boolean }) => {
      const client = await connectAsOperator(dataDirFrom(options));
      const held = await client.call<(HeldCall & { chain?: string; remote?: boolean })[]>("approvals-list");
      client.close();
      if (options.json) {
        for (const call of held) printJsonLine(call);
        return;
      }
      if (held.length === 0) printLine("no held calls");
      for (const call of held) {
        const seconds = Math.max(0, Math.round((Date.parse(call.expiresAt) - Date.now()) / 1000));
        printLine(
          `${call.approvalId}  ${call.identity.agentId}  ${call.server}/${call.tool}  rule ${call.ruleId}  expires in ${seconds}s${call.remote ? `  (held on replica ${call.chain})` : ""}`,
        );
        printLine(`    arguments: ${JSON.stringify(call.arguments).slice(0, 200)}`);
      }
    });

  approvals
    .command("approve")
    .description("approve a held call")
    .argument("<id>", "the approval id from `warden approvals list`")
    .option(
      "--scope <scope>",
      "once (this call), session (later calls of this tool and rule in the session) or always (for this agent); session and always are recorded grants",
      "once",
    )
    .addOption(dataDirOption())
    .addOption(jsonOption())
    .action(async (id: string, options: { dataDir?: string; scope: string; json?: boolean }) => {
      if (options.scope !== "once" && options.scope !== "session" && options.scope !== "always") {
        throw new WardenError("usage", `--scope must be once, session or always, not "${options.scope}"`);
      }
      const client = await connectAsOperator(dataDirFrom(options));
      const result = await client.call<{ released: boolean; approvalsNeeded: number }>("approvals-decide", {
        approvalId: id,
        outcome: "approved",
        reviewer: reviewerName(),
        scope: options.scope,
      });
      client.close();
      if (options.json) printJsonLine(result);
      else
        printLine(
          result.released
            ? `approved ${id}`
            : `approval recorded; ${result.approvalsNeeded} more reviewer(s) needed`,
        );
    });

  approvals
    .command("deny")
    .description("deny a held call; the reason is returned to the agent")
    .argument("<id>", "the approval id from `warden approvals list`")
    .requiredOption("--reason <text>", "why (the agent is told)")
    .addOption(dataDirOption())
    .addOption(jsonOption())
    .action(async (id: string, options: { dataDir?: string; reason: string; json?: boolean }) => {
      if (options.reason.trim().length === 0) throw new WardenError("usage", "--reason must not be empty");
      const client = await connectAsOperator(dataDirFrom(options));
      const result = await client.call("approvals-decide", {
        approvalId: id,
        outcome: "denied",
        reviewer: reviewerName(),
        reason: options.reason,
      });
      client.close();
      if (options.json) printJsonLine(result);
      else printLine(`denied ${id}`);
    });
}

export function registerTools(program: Command): void {
  const tools = program.command("tools").description("manage pinned tool definitions");
  tools
    .command("approve")
    .description("accept a changed tool definition so the tool is shown to agents again")
    .argument("<server/tool>", "e.g. filesystem/read_text_file")
    .addOption(dataDirOption())
    .addHelpText("after", "\nExample:\n  warden tools approve filesystem/write_file")
    .action(async (target: string, options: { dataDir?: string }) => {
      const slash = target.indexOf("/");
      if (slash <= 0 || slash === target.length - 1)
        throw new WardenError("usage", `expected SERVER/TOOL, got "${target}"`);
      const client = await connectAsOperator(dataDirFrom(options));
      const result = await client.call<{ definitionHash: string }>("tools-approve", {
        server: target.slice(0, slash),
        tool: target.slice(slash + 1),
        reviewer: reviewerName(),
      });
      client.close();
      printLine(`approved ${target} at ${result.definitionHash}`);
    });
}
