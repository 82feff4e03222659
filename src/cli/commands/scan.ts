import { type Command, Option } from "commander";
import { dataDirOption, jsonOption } from "../common-options.js";

export interface ScanCommandOptions {
  since: string;
  dataDir?: string;
  json?: boolean;
  record?: boolean;
  config?: string;
  policy?: string;
}

export function registerScan(program: Command): void {
  program
    .command("scan")
    .description(
      "re-run the detectors over recorded traces and print (or record) the findings and claim checks the log does not hold yet",
    )
    .requiredOption(
      "--since <when>",
      "report on events from this time on: an ISO time, or a duration back from now (30m, 24h, 7d)",
    )
    .option(
      "--record",
      "append the new findings and claim checks to the log (through the daemon if one runs, else directly)",
    )
    .addOption(
      new Option(
        "--config <file>",
        "the config `warden up` runs with: its detection.manifests feed the unexpected-tool detector",
      ),
    )
    .addOption(
      new Option(
        "--policy <file>",
        "the constitution `warden up` runs with: its tripwires (decoy tools, files, credentials) are scanned for",
      ),
    )
    .addOption(dataDirOption())
    .addOption(jsonOption())
    .addHelpText(
      "after",
      [
        "",
        "Detectors see the whole history (so baselines are what they were) but only findings and",
        "claim checks about events since --since are printed, and only those not already in the log",
        "(same detector, evidence and explanation; same claim and verdict): scanning twice reports",
        "nothing new. Without --record the scan reads the store read-only and records nothing; with",
        "it, what it printed is appended as finding and claim-check events (a contradicted claim's",
        "finding names its claim check), so a second scan --record adds nothing. Tool manifests",
        "come from --config and decoys from --policy (decoy credentials are matched with the data",
        "directory's fingerprint key); decoys planted in sandbox sessions are known from the log.",
        "",
        "Examples:",
        "  warden scan --since 24h --json",
        "  warden scan --since 2026-12-01T00:00:00Z --record",
        "  warden scan --since 7d --config warden.yaml --policy constitution.yaml",
      ].join("\n"),
    )
    .action(async (options: ScanCommandOptions) => {
      const { runScanCommand } = await import("./scan-action.js");
      await runScanCommand(options);
    });
}
