import path from "node:path";
import { configSchema } from "../../core/config.js";
import { WardenError } from "../../core/errors.js";
import { createLogger } from "../../core/logger.js";
import { startDaemon } from "../../server/daemon.js";
import { loadConfigFile } from "../../server/load-config.js";
import { dataDirFrom } from "../common-options.js";
import { printLine } from "../output.js";
import { parseUpstreamFlag, type UpOptions } from "./up.js";

/** `warden up`'s action, loaded only when the command runs (it pulls in the whole daemon). */
export async function runUp(options: UpOptions): Promise<void> {
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
  if (options.chain !== undefined && options.db === undefined)
    throw new WardenError("usage", "--chain needs --db: SQLite has one chain");
  if (options.db !== undefined && !/^postgres(ql)?:\/\//.test(options.db))
    throw new WardenError("usage", `--db must be a postgres:// URL, not "${options.db}"`);
  const otlp = otlpSettings(options);
  const daemon = await startDaemon({
    ...(otlp === null ? {} : { otlp }),
    dataDir,
    policyPath: policy,
    configPath,
    config,
    socketOnly: Boolean(options.socketOnly),
    ...(options.db === undefined
      ? {}
      : { postgres: { url: options.db, ...(options.chain === undefined ? {} : { chain: options.chain }) } }),
    logger,
    checkpointEveryEvents: Number.parseInt(options.checkpointEvery, 10) || 1000,
    ...(witness ? { witness: /^https?:/.test(witness) ? witness : path.resolve(witness) } : {}),
  });
  const stop = () => void daemon.close();
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  if (!policy) logger.warn("no constitution given (--policy): every tool call will be denied");
  printLine(
    `warden daemon running for ${dataDir} (socket ${daemon.socketPath}${daemon.httpUrl ? `, http ${daemon.httpUrl}` : ""}${daemon.dashboardUrl ? `, dashboard ${daemon.dashboardUrl}` : ""}); stop with Ctrl-C or "warden down"`,
  );
  await daemon.stopped;
}

/** The OTLP exporter's settings from the flags, else the standard OTEL_EXPORTER_OTLP_* variables. */
function otlpSettings(options: UpOptions): {
  endpoint: string;
  protocol: "http/protobuf" | "http/json";
  headers: Record<string, string>;
} | null {
  const base = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const endpoint =
    options.otlpEndpoint ??
    process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
    (base ? `${base.replace(/\/$/, "")}/v1/traces` : undefined);
  if (endpoint === undefined) return null;
  if (!/^https?:\/\/.+/.test(endpoint))
    throw new WardenError("usage", `--otlp-endpoint must be an http(s) URL, not "${endpoint}"`);
  const protocol = options.otlpProtocol ?? process.env.OTEL_EXPORTER_OTLP_PROTOCOL ?? "http/protobuf";
  if (protocol !== "http/protobuf" && protocol !== "http/json")
    throw new WardenError("usage", `--otlp-protocol must be http/protobuf or http/json, not "${protocol}"`);
  const headerText = options.otlpHeader ?? process.env.OTEL_EXPORTER_OTLP_HEADERS ?? "";
  const headers: Record<string, string> = {};
  for (const part of headerText.split(",")) {
    if (part.trim() === "") continue;
    const at = part.indexOf("=");
    if (at <= 0) throw new WardenError("usage", `OTLP headers are key=value pairs, not "${part.trim()}"`);
    headers[decodeURIComponent(part.slice(0, at).trim())] = decodeURIComponent(part.slice(at + 1).trim());
  }
  return { endpoint, protocol, headers };
}
