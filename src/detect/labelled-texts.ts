import { readFileSync } from "node:fs";

/** One row of a labelled set in `bench/data/DETECTOR/*.jsonl`. */
export interface LabelledText {
  label: boolean;
  text: string;
}

export function readLabelledTexts(file: string): LabelledText[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as LabelledText);
}

export interface BinaryScores {
  precision: number;
  recall: number;
  f1: number;
}

export function binaryScores(rows: readonly LabelledText[], flag: (text: string) => boolean): BinaryScores {
  let truePositive = 0;
  let falsePositive = 0;
  let falseNegative = 0;
  for (const row of rows) {
    const flagged = flag(row.text);
    if (flagged && row.label) truePositive++;
    else if (flagged) falsePositive++;
    else if (row.label) falseNegative++;
  }
  const precision = truePositive / (truePositive + falsePositive || 1);
  const recall = truePositive / (truePositive + falseNegative || 1);
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1 };
}
