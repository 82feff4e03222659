import { readFileSync } from "node:fs";
import path from "node:path";
import { configSchema, type WardenConfig } from "../core/config.js";
import { WardenError } from "../core/errors.js";
import { formatSchemaIssues, parseYamlSource } from "../core/yaml-source.js";

/** Reads `warden up --config FILE`; every problem is reported as one `path: message` line. */
export function loadConfigFile(file: string): WardenConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new WardenError("config-invalid", `${file}: cannot read the file: ${(error as Error).message}`);
  }
  const yaml = parseYamlSource(text, file);
  if (!yaml.ok) throw new WardenError("config-invalid", `${file} has problems:\n${yaml.problems.join("\n")}`);
  const parsed = configSchema.safeParse(yaml.source.value, { reportInput: true });
  if (!parsed.success) {
    const lines = formatSchemaIssues(parsed.error.issues, yaml.source, "config");
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
