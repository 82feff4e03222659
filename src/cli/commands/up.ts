import type { Command } from "commander";
import type { WardenConfig } from "../../core/config.js";
import { WardenError } from "../../core/errors.js";
import { dataDirOption, policyOption } from "../common-options.js";

const defaultKeyVariables = { openai: "OPENAI_API_KEY", anthropic: "ANTHROPIC_API_KEY" } as const;

/** `--upstream openai=https://api.openai.com` → an upstream named after its format. */
export function parseUpstreamFlag(flag: string): WardenConfig["upstreams"][number] {
  const match = /^(openai|anthropic)=(https?:\/\/.+)$/.exec(flag);
  if (!match) throw new WardenError("usage", `--upstream must be openai=URL or anthropic=URL, not "${flag}"`);
  const format = match[1] as "openai" | "anthropic";
  return { name: format, baseUrl: match[2]!, format, apiKeyEnv: defaultKeyVariables[format] };
}

export interface UpOptions {
  dataDir?: string;
  policy?: string;
  witness?: string;
  config?: string;
  port?: string;
  upstream?: string[];
  socketOnly?: boolean;
  checkpointEvery: string;
  db?: string;
  chain?: string;
  otlpEndpoint?: string;
  otlpProtocol?: string;
  otlpHeader?: string;
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
    .option(
      "--db <url>",
      "keep the record in PostgreSQL (postgres://user@host:5432/db) instead of DATA/events.sqlite",
    )
    .option(
      "--chain <name>",
      "with --db: this replica's hash chain (each replica sharing a database needs its own)",
    )
    .option(
      "--otlp-endpoint <url>",
      "send the record as OTLP traces to this collector URL (default $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or $OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces)",
    )
    .option(
      "--otlp-protocol <protocol>",
      "http/protobuf or http/json (default $OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf)",
    )
    .option(
      "--otlp-header <key=value,...>",
      "headers for the collector (default $OTEL_EXPORTER_OTLP_HEADERS)",
    )
    .addHelpText(
      "after",
      "\nExample:\n  warden up --policy ./constitution.yaml --upstream openai=https://api.openai.com --witness /var/backups/warden-witness.jsonl\n\nStops cleanly on SIGTERM or `warden down`.",
    )
    .action(async (options: UpOptions) => {
      const { runUp } = await import("./up-action.js");
      await runUp(options);
    });
}
