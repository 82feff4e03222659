import type { Command } from "commander";
import { dataDirOption, jsonOption } from "../common-options.js";

export interface ScanCommandOptions {
  since: string;
  dataDir?: string;
  json?: boolean;
}

export function registerScan(program: Command): void {
  program
    .command("scan")
    .description("re-run the detectors over recorded traces and print the findings the log does not hold yet")
    .requiredOption(
      "--since <when>",
      "report on events from this time on: an ISO time, or a duration back from now (30m, 24h, 7d)",
    )
    .addOption(dataDirOption())
    .addOption(jsonOption())
    .addHelpText(
      "after",
      [
        "",
        "Detectors see the whole history (so baselines are what they were) but only findings about",
        "events since --since are printed, and only those not already in the log (same detector,",
        "evidence and explanation): scanning twice reports nothing new. The scan reads the store",
        "read-only and records nothing; decoy tripwires are not re-scanned (they need the daemon's key).",
        "",
        "Example:",
        "  warden scan --since 24h --json",
      ].join("\n"),
    )
    .action(async (options: ScanCommandOptions) => {
      const { runScanCommand } = await import("./scan-action.js");
      await runScanCommand(options);
    });
}
