import type { Command } from "commander";
import { WardenError } from "../../core/errors.js";
import type { EventQuery } from "../../core/event-store.js";
import { isEventType, type StoredEvent } from "../../core/events.js";
import { dataDirFrom, dataDirOption, jsonOption } from "../common-options.js";
import { formatLogLine } from "../format-event.js";
import { printJsonLine, printLine, printPaged } from "../output.js";

export function registerLog(program: Command): void {
  program
    .command("log")
    .description("show the event log, oldest first")
    .addOption(dataDirOption())
    .option("--agent <id>", "only this agent")
    .option("--session <id>", "only this session")
    .option("--type <type...>", "only these event types (e.g. tool-call policy-decision)")
    .option("--since-seq <n>", "only events after this seq", "0")
    .option("--limit <n>", "at most this many events", "100000")
    .option("-f, --follow", "keep printing new events as they are written")
    .option("--db <url>", "read a PostgreSQL store (warden up --db) instead of the data directory's")
    .option("--chain <name>", "with --db: one replica's chain (default: every chain, in commit order)")
    .addOption(jsonOption())
    .addHelpText(
      "after",
      "\nExamples:\n  warden log --type policy-decision --json\n  warden log --follow --agent claude",
    )
    .action(
      async (options: {
        dataDir?: string;
        agent?: string;
        session?: string;
        type?: string[];
        sinceSeq: string;
        limit: string;
        follow?: boolean;
        json?: boolean;
        db?: string;
        chain?: string;
      }) => {
        const { readFrom } = await import("../read-store.js");
        const source = { dataDir: dataDirFrom(options), db: options.db, chain: options.chain };
        for (const type of options.type ?? []) {
          if (!isEventType(type)) throw new WardenError("usage", `unknown event type "${type}"`);
        }
        const query: EventQuery = {
          afterSeq: Number.parseInt(options.sinceSeq, 10) || 0,
          limit: Number.parseInt(options.limit, 10) || 100_000,
          ...(options.agent ? { agentId: options.agent } : {}),
          ...(options.session ? { sessionId: options.session } : {}),
          ...(options.type ? { types: options.type as EventQuery["types"] } : {}),
        };
        const events = await readFrom(source, query);
        if (!options.follow) {
          if (options.json) for (const event of events) printJsonLine(withoutCursor(event));
          else await printPaged(events.map(formatLogLine));
          return;
        }
        const print = (event: StoredEvent) =>
          options.json ? printJsonLine(withoutCursor(event)) : printLine(formatLogLine(event));
        events.forEach(print);
        let afterSeq = events.at(-1)?.cursor ?? query.afterSeq ?? 0;
        // Follow by polling the read-only store: cheap, and it needs no socket permission.
        for (;;) {
          await new Promise((resolve) => setTimeout(resolve, 250));
          const next = await readFrom(source, { ...query, afterSeq, limit: 10_000 });
          next.forEach(print);
          afterSeq = next.at(-1)?.cursor ?? afterSeq;
        }
      },
    );
}

/** The event as stored (and, from PostgreSQL, its chain): the reader's cursor is not printed. */
function withoutCursor(event: StoredEvent & { cursor?: number }): StoredEvent {
  const { cursor: _cursor, ...shown } = event;
  return shown;
}
