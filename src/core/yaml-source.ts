import { type Document, isMap, isNode, isPair, isScalar, LineCounter, parseDocument } from "yaml";
import type { z } from "zod";

/**
 * A parsed YAML file that can say where a value came from, so every problem can point at a
 * line. Problems are `path: message (source:line:column)`.
 */
export interface YamlSource {
  value: unknown;
  /**
   * `source:line:column` of the value at `path` (or of the nearest enclosing value that
   * exists); with `atKey`, of the key naming it.
   */
  locate(path: readonly PropertyKey[], atKey?: boolean): string;
}

export type YamlParseResult = { ok: true; source: YamlSource } | { ok: false; problems: string[] };

export function parseYamlSource(text: string, sourceName: string): YamlParseResult {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const locateOffset = (offset: number): string => {
    const position = lineCounter.linePos(offset);
    return `${sourceName}:${position.line}:${position.col}`;
  };
  if (document.errors.length > 0) {
    return {
      ok: false,
      problems: document.errors.map((error) => {
        const firstLine = error.message.split("\n")[0] ?? error.message;
        // The yaml package appends "at line L, column C:" itself; our location suffix replaces it.
        const message = firstLine.replace(/ at line \d+, column \d+:?$/, "");
        return `yaml: ${message} (${locateOffset(error.pos[0])})`;
      }),
    };
  }
  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    return { ok: false, problems: [`yaml: ${(error as Error).message} (${sourceName})`] };
  }
  return {
    ok: true,
    source: {
      value,
      locate: (path, atKey = false) => locateOffset(offsetOf(document, path, atKey)),
    },
  };
}

function offsetOf(document: Document, path: readonly PropertyKey[], atKey: boolean): number {
  let node: unknown = document.contents;
  let offset = rangeStart(node) ?? 0;
  for (const [position, key] of path.entries()) {
    if (!isNode(node) || !("items" in node)) break;
    const items = (node as { items: unknown[] }).items;
    let next: unknown;
    if (isMap(node)) {
      const pair = items.find((item) => isPair(item) && isScalar(item.key) && item.key.value === key);
      if (isPair(pair)) {
        offset = rangeStart(pair.key) ?? offset;
        if (atKey && position === path.length - 1) return offset;
        next = pair.value;
      }
    } else if (typeof key === "number") {
      next = items[key];
    }
    if (next === undefined) break;
    offset = rangeStart(next) ?? offset;
    node = next;
  }
  return offset;
}

function rangeStart(node: unknown): number | undefined {
  if (isNode(node) && node.range) return node.range[0];
  return undefined;
}

/** `rules[2].effect` */
export function formatPath(path: readonly PropertyKey[], rootName: string): string {
  let text = "";
  for (const key of path) {
    if (typeof key === "number") text += `[${key}]`;
    else text += text === "" ? String(key) : `.${String(key)}`;
  }
  return text === "" ? rootName : text;
}

/** One line per problem: `path: message (source:line:column)`. */
export function formatSchemaIssues(
  issues: readonly z.core.$ZodIssue[],
  source: YamlSource,
  rootName: string,
): string[] {
  const problems: string[] = [];
  const add = (path: readonly PropertyKey[], message: string, atKey = false) => {
    problems.push(`${formatPath(path, rootName)}: ${message} (${source.locate(path, atKey)})`);
  };
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) add([...issue.path, key], "unknown key", true);
      continue;
    }
    add(issue.path, describeIssue(issue));
  }
  return problems;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const input = (issue as { input?: unknown }).input;
  if (input === undefined && (issue.code === "invalid_type" || issue.code === "invalid_value"))
    return "required";
  switch (issue.code) {
    case "invalid_type":
      return `expected ${issue.expected}, got ${describeType(input)}`;
    case "invalid_value":
      return issue.values.length === 1
        ? `expected ${String(issue.values[0])}`
        : `expected one of ${issue.values.map(String).join("|")}`;
    case "too_small":
      if (issue.origin === "string" && Number(issue.minimum) === 1) return "must not be empty";
      if (issue.origin === "array" && Number(issue.minimum) === 1) return "must list at least one item";
      return issue.message;
    case "invalid_key":
      // A record key that its key schema refused: say why, not only that it is invalid.
      return issue.issues.map((inner) => inner.message).join("; ") || issue.message;
    default:
      return issue.message;
  }
}

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return typeof value;
}
