import path from "node:path";
import type { Command } from "commander";
import { createLogger } from "../../core/logger.js";
import { startDaemon } from "../../server/daemon.js";
import { dataDirFrom, dataDirOption, policyOption } from "../common-options.js";
import { printLine } from "../output.js";

export function registerUp(program: Command): void {
  program
    .command("up")
    .description("run the Warden daemon in the foreground: it owns the record, the signing key and the constitution")
    .addOption(dataDirOption())
    .addOption(policyOption())
    .option("--witness <file|url>", "also send every signed checkpoint head to this witness (a file outside the data directory, or a URL)")
    .option("--socket-only", "listen only on the local socket (what `warden mcp` starts in the background)")
    .option("--checkpoint-every <events>", "sign a checkpoint after this many events", "1000")
    .addHelpText("after", "\nExample:\n  warden up --policy ./constitution.yaml --witness /var/backups/warden-witness.jsonl\n\nStops cleanly on SIGTERM or `warden down`.")
    .action(async (options: { dataDir?: string; policy?: string; witness?: string; checkpointEvery: string }) => {
      const dataDir = dataDirFrom(options);
      const logger = createLogger({ name: "warden-daemon" });
      const daemon = await startDaemon({
        dataDir,
        policyPath: options.policy ? path.resolve(options.policy) : null,
        logger,
        checkpointEveryEvents: Number.parseInt(options.checkpointEvery, 10) || 1000,
        ...(options.witness ? { witness: /^https?:/.test(options.witness) ? options.witness : path.resolve(options.witness) } : {}),
      });
      const stop = () => void daemon.close();
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
      if (!options.policy) logger.warn("no constitution given (--policy): every tool call will be denied");
      printLine(`warden daemon running for ${dataDir} (socket ${daemon.socketPath}); stop with Ctrl-C or "warden down"`);
      await daemon.stopped;
    });
}
