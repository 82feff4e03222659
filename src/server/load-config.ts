import { readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { configSchema, type WardenConfig } from "../core/config.js";
import { WardenError } from "../core/errors.js";

/** Reads `warden up --config FILE`; every problem is reported as one `path: message` line. */
export function loadConfigFile(file: string): WardenConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new WardenError("config-invalid", `${file}: cannot read the file: ${(error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text, { uniqueKeys: true });
  } catch (error) {
    throw new WardenError("config-invalid", `${file}: ${(error as Error).message.split("\n")[0]}`);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map(
      (issue) => `${issue.path.map(String).join(".") || "(root)"}: ${issue.message}`,
    );
    throw new WardenError("config-invalid", `${file} has problems:\n${lines.join("\n")}`);
  }
  const directory = path.dirname(path.resolve(file));
  const config = parsed.data;
  if (config.policy) config.policy = path.resolve(directory, config.policy);
  for (const server of Object.values(config.mcpServers)) {
    if (server.cwd) server.cwd = path.resolve(directory, server.cwd);
  }
  return config;
}
