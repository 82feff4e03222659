import { type Document, isMap, isNode, isPair, isScalar, LineCounter, parseDocument } from "yaml";

/** A parsed YAML document that can say where the value at a path came from. */
export interface YamlSource {
  value: unknown;
  /**
   * `source:line:column` of the value at `path`, or of the nearest enclosing value that exists;
   * with `key`, of the key itself (where an unknown key is best shown).
   */
  locate(path: readonly PropertyKey[], options?: { key?: boolean }): string;
}

export type YamlSourceResult = { ok: true; source: YamlSource } | { ok: false; problems: string[] };

export function parseYamlSource(text: string, sourceName: string): YamlSourceResult {
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
        return `yaml: ${firstLine.replace(/ at line \d+, column \d+:?$/, "")} (${locateOffset(error.pos[0])})`;
      }),
    };
  }
  try {
    const value: unknown = document.toJS({ maxAliasCount: 100 });
    return {
      ok: true,
      source: {
        value,
        locate: (path, options) => locateOffset(offsetOf(document, path, options?.key ?? false)),
      },
    };
  } catch (error) {
    return { ok: false, problems: [`yaml: ${(error as Error).message} (${sourceName})`] };
  }
}

function offsetOf(document: Document, path: readonly PropertyKey[], atKey: boolean): number {
  let node: unknown = document.contents;
  let offset = rangeStart(node) ?? 0;
  for (const [depth, key] of path.entries()) {
    if (!isNode(node) || !("items" in node)) break;
    const items = (node as { items: unknown[] }).items;
    let next: unknown;
    if (isMap(node)) {
      const pair = items.find((item) => isPair(item) && isScalar(item.key) && item.key.value === key);
      if (isPair(pair)) {
        offset = rangeStart(pair.key) ?? offset;
        if (atKey && depth === path.length - 1) return offset;
        next = pair.value;
      }
    } else if (typeof key === "number") {
      next = items[key];
    }
    if (next === undefined || next === null) break;
    offset = rangeStart(next) ?? offset;
    node = next;
  }
  return offset;
}

function rangeStart(node: unknown): number | undefined {
  return isNode(node) && node.range ? node.range[0] : undefined;
}
