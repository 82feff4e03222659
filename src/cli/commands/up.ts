import path from "node:path";
import type { Command } from "commander";
import { WardenError } from "../../core/errors.js";
import { createLogger } from "../../core/logger.js";
import { startDaemon } from "../../server/daemon.js";
import { loadConfigFile } from "../../server/load-config.js";
import { dataDirFrom, dataDirOption, policyOption } from "../common-options.js";
import { printLine } from "../output.js";

export function registerUp(program: Command): void {
  program
    .command("up")
    .description(
      "run the Warden daemon in the foreground: it owns the record, the signing key and the constitution",
    )
    .addOption(dataDirOption())
    .addOption(policyOption())
    .option(
      "--witness <file|url>",
      "also send every signed checkpoint head to this witness (a file outside the data directory, or a URL)",
    )
    .option(
      "--config <file>",
      "the daemon's config file (YAML): listener, witness, MCP servers served at /mcp/NAME",
    )
    .option("--port <port>", "HTTP port on 127.0.0.1 (overrides the config; 0 picks a free one)")
    .option("--socket-only", "listen only on the local socket (what `warden mcp` starts in the background)")
    .option("--checkpoint-every <events>", "sign a checkpoint after this many events", "1000")
    .addHelpText(
      "after",
      "\nExample:\n  warden up --policy ./constitution.yaml --witness /var/backups/warden-witness.jsonl\n\nStops cleanly on SIGTERM or `warden down`.",
    )
    .action(
      async (options: {
        dataDir?: string;
        policy?: string;
        witness?: string;
        config?: string;
        port?: string;
        socketOnly?: boolean;
        checkpointEvery: string;
      }) => {
        const dataDir = dataDirFrom(options);
        const logger = createLogger({ name: "warden-daemon" });
        const configPath = options.config ? path.resolve(options.config) : null;
        const config = configPath ? loadConfigFile(configPath) : null;
        if (options.port !== undefined) {
          const port = Number(options.port);
          if (!Number.isInteger(port) || port < 0 || port > 65535)
            throw new WardenError("usage", `--port must be 0-65535, not "${options.port}"`);
          if (config) config.listen.port = port;
        }
        const policy = options.policy ? path.resolve(options.policy) : (config?.policy ?? null);
        const witness = options.witness ?? config?.witness;
        const daemon = await startDaemon({
          dataDir,
          policyPath: policy,
          configPath,
          config:
            config ??
            (options.port !== undefined
              ? { version: 1, listen: { host: "127.0.0.1", port: Number(options.port) }, mcpServers: {} }
              : null),
          socketOnly: Boolean(options.socketOnly),
          logger,
          checkpointEveryEvents: Number.parseInt(options.checkpointEvery, 10) || 1000,
          ...(witness ? { witness: /^https?:/.test(witness) ? witness : path.resolve(witness) } : {}),
        });
        const stop = () => void daemon.close();
        process.once("SIGTERM", stop);
        process.once("SIGINT", stop);
        if (!policy) logger.warn("no constitution given (--policy): every tool call will be denied");
        printLine(
          `warden daemon running for ${dataDir} (socket ${daemon.socketPath}${daemon.httpUrl ? `, http ${daemon.httpUrl}` : ""}); stop with Ctrl-C or "warden down"`,
        );
        await daemon.stopped;
      },
    );
}
