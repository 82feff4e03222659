import { once } from "node:events";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import type { TextClassifier } from "./detector.js";

export interface ClassifyJsonLinesOptions {
  classifier: TextClassifier;
  input: Readable;
  output: Writable;
  /** Called once per bad line, with its 1-based number and what is wrong. */
  onBadLine: (lineNumber: number, problem: string) => void;
}

export interface ClassifyJsonLinesResult {
  lines: number;
  badLines: number;
}

/**
 * Reads JSON lines `{"text": ...}` and writes each back with `flagged`, `score` and `evidence`
 * added (and the classifier's `flagField`), one output line per input line, in order. A bad
 * line is written as `{"error": ...}` (keeping its fields when it was an object). Streams:
 * each line is written before the next is read, and writing waits for a full output to drain.
 */
export async function classifyJsonLines(options: ClassifyJsonLinesOptions): Promise<ClassifyJsonLinesResult> {
  const { classifier, input, output, onBadLine } = options;
  const reader = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let lines = 0;
  let badLines = 0;
  for await (const line of reader) {
    lines++;
    let record: Record<string, unknown>;
    try {
      record = classifyLine(classifier, line);
    } catch (error) {
      badLines++;
      const problem = (error as Error).message;
      onBadLine(lines, problem);
      record = { ...(error instanceof BadLineError ? error.record : {}), error: `line ${lines}: ${problem}` };
    }
    if (!output.write(`${JSON.stringify(record)}\n`)) await once(output, "drain");
  }
  return { lines, badLines };
}

class BadLineError extends Error {
  constructor(
    message: string,
    readonly record: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

function classifyLine(classifier: TextClassifier, line: string): Record<string, unknown> {
  if (line.trim() === "") throw new BadLineError("empty line (expected a JSON object with a text field)");
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new BadLineError(`not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new BadLineError("expected a JSON object with a text field");
  }
  const record = value as Record<string, unknown>;
  if (typeof record.text !== "string") {
    throw new BadLineError(
      record.text === undefined ? "no text field" : `text must be a string, not ${jsonType(record.text)}`,
      record,
    );
  }
  const result = classifier.classify(record.text);
  return {
    ...record,
    flagged: result.flagged,
    ...(classifier.flagField ? { [classifier.flagField]: result.flagged } : {}),
    score: Math.round(result.score * 10_000) / 10_000,
    evidence: result.evidence,
  };
}

function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}
