import { createHash, type Hash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { WardenError } from "../core/errors.js";
import { formatSchemaIssues, parseYamlSource } from "../core/yaml-source.js";
import { textClassifiers } from "../detect/index.js";
import { type Scenario, type ScorerSpec, scenarioSchema } from "./scenario-schema.js";

export interface LoadedScenario {
  scenario: Scenario;
  file: string;
  /** SHA-256 of the file's text and its workspace fixture's files: a resumed run must use the same scenarios. */
  contentHash: string;
  /** The scenario's `workspace` fixture, resolved against the file's directory. */
  workspace?: string;
}

/** The built-in packs: `scenarios/` at the package root (beside `src/` and `dist/`). */
export const builtInPacksDirectory = fileURLToPath(new URL("../../scenarios/", import.meta.url));

/** Parses one scenario text (`sourceName` is its file, against which `workspace` resolves); returns the scenario or the problems, one `path: message (file:line:col)` each. */
export function parseScenario(
  text: string,
  sourceName: string,
  options: { checkWorkspace?: boolean } = {},
): { ok: true; scenario: Scenario } | { ok: false; problems: string[] } {
  const yaml = parseYamlSource(text, sourceName);
  if (!yaml.ok) return { ok: false, problems: yaml.problems };
  const parsed = scenarioSchema.safeParse(yaml.source.value, { reportInput: true });
  if (!parsed.success) {
    return { ok: false, problems: formatSchemaIssues(parsed.error.issues, yaml.source, "scenario") };
  }
  const problems: string[] = [];
  const checkScorer = (scorer: ScorerSpec, at: PropertyKey[]) => {
    if (scorer.type === "classifier" && !textClassifiers.has(scorer.name)) {
      const available = [...textClassifiers.keys()].join(", ");
      problems.push(
        `${at.join(".")}.name: no classifier named "${scorer.name}" in this Warden (available: ${available}) (${yaml.source.locate([...at, "name"])})`,
      );
    }
  };
  checkScorer(parsed.data.scorer, ["scorer"]);
  const workspace = workspaceDirectory(parsed.data, sourceName);
  if (options.checkWorkspace && workspace !== undefined && !isDirectory(workspace)) {
    problems.push(`workspace: ${workspace} is not a directory (${yaml.source.locate(["workspace"])})`);
  }
  for (const [name, scorer] of Object.entries(parsed.data.scorers ?? {}))
    checkScorer(scorer, ["scorers", name]);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, scenario: parsed.data };
}

/**
 * A scenario file, a directory of them (a pack), or the name of a built-in pack. Every problem
 * in every file is reported before anything runs.
 */
export function loadScenarios(target: string, packsDirectory = builtInPacksDirectory): LoadedScenario[] {
  const files = scenarioFiles(target, packsDirectory);
  const problems: string[] = [];
  const loaded: LoadedScenario[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const result = parseScenario(text, file, { checkWorkspace: true });
    if (!result.ok) {
      problems.push(...result.problems);
      continue;
    }
    const earlier = seen.get(result.scenario.id);
    if (earlier !== undefined) {
      problems.push(`id: "${result.scenario.id}" is also the id of ${earlier} (${file})`);
      continue;
    }
    seen.set(result.scenario.id, file);
    const workspace = workspaceDirectory(result.scenario, file);
    loaded.push({
      scenario: result.scenario,
      file,
      contentHash: contentHash(text, workspace),
      ...(workspace === undefined ? {} : { workspace }),
    });
  }
  if (problems.length > 0)
    throw new WardenError("config-invalid", `scenario problems:\n${problems.join("\n")}`);
  return loaded;
}

function workspaceDirectory(scenario: Scenario, file: string): string | undefined {
  return scenario.workspace === undefined ? undefined : path.resolve(path.dirname(file), scenario.workspace);
}

function contentHash(text: string, workspace: string | undefined): string {
  const hash = createHash("sha256").update(text);
  if (workspace !== undefined) hashTree(hash, workspace, "");
  return hash.digest("hex");
}

/** Paths, kinds and contents of a fixture, in a fixed order. */
function hashTree(hash: Hash, root: string, relative: string): void {
  for (const entry of readdirSync(path.join(root, relative), { withFileTypes: true }).sort((left, right) =>
    left.name < right.name ? -1 : left.name > right.name ? 1 : 0,
  )) {
    const name = path.posix.join(relative, entry.name);
    const full = path.join(root, name);
    if (entry.isDirectory()) {
      hash.update(`\0d ${name}`);
      hashTree(hash, root, name);
    } else if (entry.isSymbolicLink()) hash.update(`\0l ${name} ${readlinkSync(full)}`);
    else if (entry.isFile()) hash.update(`\0f ${name}\0`).update(readFileSync(full));
  }
}

function isDirectory(candidate: string): boolean {
  return existsSync(candidate) && statSync(candidate).isDirectory();
}

function scenarioFiles(target: string, packsDirectory: string): string[] {
  let resolved = path.resolve(target);
  if (!existsSync(resolved)) {
    const pack = path.join(packsDirectory, target);
    if (/^[a-z0-9-]+$/.test(target) && existsSync(pack)) resolved = pack;
    else {
      throw new WardenError(
        "usage",
        `"${target}" is neither a scenario file, a directory, nor a built-in pack (${listPacks(packsDirectory).join(", ")})`,
      );
    }
  }
  if (!statSync(resolved).isDirectory()) return [resolved];
  const files = readdirSync(resolved)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => path.join(resolved, name));
  if (files.length === 0) throw new WardenError("usage", `${resolved} holds no scenario files (*.yaml)`);
  return files;
}

/** Names of the built-in packs. */
export function listPacks(packsDirectory = builtInPacksDirectory): string[] {
  if (!existsSync(packsDirectory)) return [];
  return readdirSync(packsDirectory, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && entry.name !== "personas")
    .map((entry) => entry.name)
    .sort();
}
