import type { Command } from "commander";
import { dataDirOption, jsonOption } from "../common-options.js";

export interface ExportOptions {
  dataDir?: string;
  session?: string;
  agent?: string;
  since?: string;
  out?: string;
  db?: string;
  chain?: string;
  publicKey?: string[];
  json?: boolean;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function registerExport(program: Command): void {
  program
    .command("export")
    .description(
      "write a self-verifying record of one session, one agent or a period: events, checkpoint proofs, public key and a summary",
    )
    .addOption(dataDirOption())
    .option("--session <id>", "only this session")
    .option("--agent <id>", "only this agent")
    .option(
      "--since <time>",
      "only events at or after this time (ISO 8601, e.g. 2026-11-01 or 2026-11-01T09:00:00Z)",
    )
    .option("--out <dir>", "a new directory for the export (default ./warden-export-<time>)")
    .option(
      "--db <url>",
      "export from a PostgreSQL store (warden up --db): the stretch of every replica chain holding selected events",
    )
    .option("--chain <name>", "with --db: only this replica's chain")
    .option(
      "--public-key <file>",
      "a public key to include (repeatable: one per replica; default: the data directory's)",
      collect,
    )
    .addOption(jsonOption())
    .addHelpText(
      "after",
      "\nThe export holds the stretch of the hash chain from the checkpoint before the first selected event to the one after\nthe last (the events between are needed to prove them and are marked as context).\n\nExample:\n  warden export --session 4f1c --out ./incident-4f1c && warden verify --export ./incident-4f1c --public-key ~/warden.pub.pem\n  warden export --db postgres://warden@db/warden --agent claude --public-key r1.pub.pem --public-key r2.pub.pem --out ./claude",
    )
    .action(async (options: ExportOptions) => {
      const { runExport } = await import("./export-action.js");
      await runExport(options);
    });
}
