import type { Command } from "commander";
import { WardenError } from "../../core/errors.js";
import { dataDirFrom, dataDirOption, jsonOption } from "../common-options.js";
import { describeEvent } from "../format-event.js";
import { printJsonLine, printPaged } from "../output.js";

export function registerTrace(program: Command): void {
  program
    .command("trace")
    .description("show one session as a readable timeline: each call, its decision, approvals and result")
    .argument("<session>", "the session id (see `warden log`)")
    .addOption(dataDirOption())
    .addOption(jsonOption())
    .option(
      "--db <url>",
      "read a PostgreSQL store (warden up --db): the session across every replica's chain",
    )
    .addHelpText("after", "\nExample:\n  warden trace 01JC9Z6T4W8M2X5K7Q0R3S1V9B")
    .action(async (session: string, options: { dataDir?: string; json?: boolean; db?: string }) => {
      const { readFrom } = await import("../read-store.js");
      const events = await readFrom(
        { dataDir: dataDirFrom(options), db: options.db },
        { sessionId: session, limit: 1_000_000 },
      );
      if (events.length === 0) throw new WardenError("not-found", `no events for session ${session}`);
      if (options.json) {
        for (const { cursor: _cursor, ...event } of events) printJsonLine(event);
        return;
      }
      const start = Date.parse(events[0]!.time);
      const lines = [
        `session ${session} · agent ${events[0]!.agentId} · ${events.length} events · started ${events[0]!.time}`,
      ];
      for (const event of events) {
        const offset = `+${((Date.parse(event.time) - start) / 1000).toFixed(3)}s`.padStart(10);
        // Results and decisions are children of a call; indent them under it.
        const indent = event.type === "tool-call" || event.type === "finding" ? "" : "   └ ";
        lines.push(`${offset}  ${indent}${event.type.padEnd(17)} ${describeEvent(event)}`);
      }
      await printPaged(lines);
    });
}
