import type { Command } from "commander";
import { WardenError } from "../../core/errors.js";
import { readDaemonPid } from "../../server/daemon-files.js";
import { dataDirFrom, dataDirOption } from "../common-options.js";
import { connectAsOperator } from "../daemon-connection.js";
import { printLine } from "../output.js";

export function registerDown(program: Command): void {
  program
    .command("down")
    .description("stop the Warden daemon of a data directory")
    .addOption(dataDirOption())
    .addHelpText("after", "\nExample:\n  warden down --data-dir ~/.local/state/warden")
    .action(async (options: { dataDir?: string }) => {
      const dataDir = dataDirFrom(options);
      const pid = readDaemonPid(dataDir);
      let client: Awaited<ReturnType<typeof connectAsOperator>>;
      try {
        client = await connectAsOperator(dataDir);
      } catch (error) {
        if (pid === null)
          throw new WardenError("daemon-unreachable", `no Warden daemon is running for ${dataDir}`);
        throw error;
      }
      await client.call("shutdown");
      client.close();
      const deadline = Date.now() + 10_000;
      while (pid !== null && readDaemonPid(dataDir) === pid && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      printLine(`warden daemon for ${dataDir} stopped`);
    });
}
