import { existsSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { dataFiles } from "../../core/data-dir.js";
import { WardenError } from "../../core/errors.js";
import { dataDirFrom, dataDirOption, jsonOption } from "../common-options.js";
import { printJsonLine, printLine } from "../output.js";

export function registerVerify(program: Command): void {
  program
    .command("verify")
    .description(
      "check the log's hash chain, checkpoint signatures and (with --witness) that nothing was truncated or rolled back",
    )
    .addOption(dataDirOption())
    .option(
      "--public-key <file>",
      "the daemon's public key, kept outside the data directory (default: the one beside the log); with --export of a PostgreSQL store, repeat it for each replica's key",
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .option("--witness <file|url>", "the witness that received checkpoint heads")
    .option("--export <dir>", "check a `warden export` directory instead of the data directory's log")
    .option(
      "--db <url>",
      "check every replica's chain in a PostgreSQL store, and what each recorded of the others",
    )
    .option("--chain <name>", "with --db and --public-key: the chain that key signs")
    .addOption(jsonOption())
    .addHelpText(
      "after",
      "\nExit codes: 0 intact, 1 the log fails verification (the first bad seq is named), 2 no store or bad usage.\n\nExample:\n  warden verify --public-key ~/warden.pub.pem --witness /var/backups/warden-witness.jsonl",
    )
    .action(
      async (options: {
        dataDir?: string;
        publicKey?: string[];
        witness?: string;
        export?: string;
        db?: string;
        chain?: string;
        json?: boolean;
      }) => {
        if (options.export !== undefined) {
          const { verifyExportCommand } = await import("./export-action.js");
          process.exitCode = verifyExportCommand(options.export, options.publicKey, Boolean(options.json));
          return;
        }
        if ((options.publicKey?.length ?? 0) > 1)
          throw new WardenError("usage", "give one --public-key, except with --export");
        const publicKey = options.publicKey?.[0];
        if (options.db !== undefined) {
          const { verifyChainsCommand } = await import("./export-action.js");
          process.exitCode = await verifyChainsCommand(
            options.db,
            publicKey,
            options.chain,
            Boolean(options.json),
          );
          return;
        }
        const { verifyDataDir } = await import("../../store/verify-data-dir.js");
        const dataDir = dataDirFrom(options);
        if (!existsSync(path.join(dataDir, dataFiles.store))) {
          throw new WardenError("usage", `no Warden store in ${dataDir}`);
        }
        const report = await verifyDataDir({
          dataDir,
          ...(publicKey ? { publicKeyFile: publicKey } : {}),
          ...(options.witness ? { witness: options.witness } : {}),
        });
        if (options.json) printJsonLine(report);
        else if (report.ok) {
          if (report.startsAt > 1)
            printLine(
              `note: the log starts at seq ${report.startsAt}; older events were removed by retention (recorded)`,
            );
          printLine(
            `intact: ${report.events} events, head seq ${report.head?.seq ?? 0} ${report.head?.hash.slice(0, 16) ?? ""}, ${report.checkpoints} signed checkpoints (key: ${report.publicKeySource})${report.witnessed !== null ? `, witness up to seq ${report.witnessed}` : ""}`,
          );
          const lastCovered = options.witness ? (report.witnessed ?? 0) : (report.lastCheckpointSeq ?? 0);
          const uncovered = (report.head?.seq ?? 0) - lastCovered;
          if (uncovered > 0) {
            printLine(
              `note: the last ${uncovered} events come after the last ${options.witness ? "witnessed head" : "signed checkpoint"}; a cut there is not detectable${options.witness ? "" : " (use --witness)"}`,
            );
          }
        } else {
          const first = report.problems[0]!;
          printLine(`FAILED at seq ${first.seq}: ${first.kind}: ${first.message}`);
          for (const problem of report.problems.slice(1))
            printLine(`  also seq ${problem.seq}: ${problem.kind}: ${problem.message}`);
        }
        process.exitCode = report.ok ? 0 : 1;
      },
    );
}
