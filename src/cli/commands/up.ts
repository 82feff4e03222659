import path from "node:path";
import type { Command } from "commander";
import { configSchema, type WardenConfig } from "../../core/config.js";
import { WardenError } from "../../core/errors.js";
import { createLogger } from "../../core/logger.js";
import { startDaemon } from "../../server/daemon.js";
import { loadConfigFile } from "../../server/load-config.js";
import { dataDirFrom, dataDirOption, policyOption } from "../common-options.js";
import { printLine } from "../output.js";

const defaultKeyVariables = { openai: "OPENAI_API_KEY", anthropic: "ANTHROPIC_API_KEY" } as const;

/** `--upstream openai=https://api.openai.com` → an upstream named after its format. */
export function parseUpstreamFlag(flag: string): WardenConfig["upstreams"][number] {
  const match = /^(openai|anthropic)=(https?:\/\/.+)$/.exec(flag);
  if (!match) throw new WardenError("usage", `--upstream must be openai=URL or anthropic=URL, not "${flag}"`);
  const format = match[1] as "openai" | "anthropic";
  return { name: format, baseUrl: match[2]!, format, apiKeyEnv: defaultKeyVariables[format] };
}

interface UpOptions {
  dataDir?: string;
  policy?: string;
  witness?: string;
  config?: string;
  port?: string;
  upstream?: string[];
  socketOnly?: boolean;
  checkpointEvery: string;
}

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
      "the daemon's config file (YAML): listener, upstreams, witness, MCP servers at /mcp/NAME",
    )
    .option("--port <port>", "HTTP port on 127.0.0.1 (overrides the config; 0 picks a free one)")
    .option(
      "--upstream <format=url...>",
      "a model API for the gateway: openai=URL or anthropic=URL (key from OPENAI_API_KEY / ANTHROPIC_API_KEY)",
    )
    .option("--socket-only", "listen only on the local socket (what `warden mcp` starts in the background)")
    .option("--checkpoint-every <events>", "sign a checkpoint after this many events", "1000")
    .addHelpText(
      "after",
      "\nExample:\n  warden up --policy ./constitution.yaml --upstream openai=https://api.openai.com --witness /var/backups/warden-witness.jsonl\n\nStops cleanly on SIGTERM or `warden down`.",
    )
    .action(async (options: UpOptions) => {
      const dataDir = dataDirFrom(options);
      const logger = createLogger({ name: "warden-daemon" });
      const configPath = options.config ? path.resolve(options.config) : null;
      const config = configPath ? loadConfigFile(configPath) : configSchema.parse({ version: 1 });
      if (options.port !== undefined) {
        const port = Number(options.port);
        if (!Number.isInteger(port) || port < 0 || port > 65535) {
          throw new WardenError("usage", `--port must be 0-65535, not "${options.port}"`);
        }
        config.listen.port = port;
      }
      for (const flag of options.upstream ?? []) config.upstreams.push(parseUpstreamFlag(flag));
      const policy = options.policy ? path.resolve(options.policy) : (config.policy ?? null);
      const witness = options.witness ?? config.witness;
      const daemon = await startDaemon({
        dataDir,
        policyPath: policy,
        configPath,
        config,
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
    });
}
