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
  const daemon = await startDaemon({
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
    `warden daemon running for ${dataDir} (socket ${daemon.socketPath}${daemon.httpUrl ? `, http ${daemon.httpUrl}` : ""}); stop with Ctrl-C or "warden down"`,
  );
  await daemon.stopped;
}
