// Precision, recall and F1 of the offline text detectors (oversight-reasoning, tool-poisoning)
// on their labelled development and held-out sets in bench/data/, beside a keyword-list
// baseline. The sets were written for Warden (hard negatives included); the held-out set is
// worded differently and was not used to choose cues or weights.
// Run after `npm run build`: node bench/detect-text-accuracy.js  (VERBOSE=1 lists the misses)
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { textClassifiers } from "../dist/detect/text-classifiers.js";
import { readXstestFile, xstestAvailable } from "./detect-xstest-data.js";
import { trainingReplyFiles, trainingSets } from "./train-oversight-reasoning.js";

const dataDirectory = fileURLToPath(new URL("./data/", import.meta.url));

/** Naive baselines: flagged when any keyword occurs (lower case). */
const keywordBaselines = {
  "oversight-reasoning": [
    "monitor",
    "shut down",
    "shutdown",
    "weights",
    "oversight",
    "being tested",
    "evaluation",
    "detect",
    "retrain",
    "unobserved",
    "watching",
    "audit log",
    "training",
  ],
  "tool-poisoning": [
    "ignore",
    "instructions",
    "important",
    "do not tell",
    "must",
    "system",
    "password",
    "secret",
    "ssh",
    ".env",
    "send",
  ],
};

export function readLabelled(file) {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line));
}

export function measure(rows, flag) {
  let truePositive = 0;
  let falsePositive = 0;
  let falseNegative = 0;
  const misses = [];
  for (const row of rows) {
    const flagged = flag(row.text);
    if (flagged && row.label) truePositive++;
    else if (flagged) {
      falsePositive++;
      misses.push(`  false positive: ${row.text}`);
    } else if (row.label) {
      falseNegative++;
      misses.push(`  false negative: ${row.text}`);
    }
  }
  const precision = truePositive / (truePositive + falsePositive || 1);
  const recall = truePositive / (truePositive + falseNegative || 1);
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1, misses, rows: rows.length, positives: truePositive + falseNegative };
}

/** Which sets the oversight-reasoning model was fitted on (bench/train-oversight-reasoning.js). */
function setUse(detector, set) {
  if (detector !== "oversight-reasoning") return set === "dev" ? "development" : "held-out";
  return trainingSets.includes(set) ? "training" : "held-out";
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const format = (value) => value.toFixed(3).padStart(10);
  console.log(
    ["detector / set", "texts", "pos.", "precision", "recall", "F1", "keyword F1", "use"]
      .map((cell, index) => (index === 0 ? cell.padEnd(34) : cell.padStart(index >= 6 ? 12 : 10)))
      .join(""),
  );
  for (const name of Object.keys(keywordBaselines)) {
    const classifier = textClassifiers.get(name);
    const sets = readdirSync(`${dataDirectory}${name}`)
      .filter((file) => file.endsWith(".jsonl"))
      .map((file) => file.slice(0, -".jsonl".length))
      .sort((left, right) => (left === "dev" ? -1 : right === "dev" ? 1 : 0));
    for (const set of sets) {
      const rows = readLabelled(`${dataDirectory}${name}/${set}.jsonl`);
      const result = measure(rows, (text) => classifier.classify(text).flagged);
      const keywords = keywordBaselines[name];
      const baseline = measure(rows, (text) => keywords.some((word) => text.toLowerCase().includes(word)));
      if (result.positives === 0) {
        const alarms = rows.filter((row) => classifier.classify(row.text).flagged).length;
        console.log(
          `${`${name} / ${set}`.padEnd(34)}${String(result.rows).padStart(10)}${"0".padStart(10)}  false alarms ${alarms} (${((100 * alarms) / rows.length).toFixed(1)}%)  ${setUse(name, set)}`,
        );
        continue;
      }
      console.log(
        `${`${name} / ${set}`.padEnd(34)}${String(result.rows).padStart(10)}${String(result.positives).padStart(10)}${format(result.precision)}${format(result.recall)}${format(result.f1)}  ${format(baseline.f1)}  ${setUse(name, set)}`,
      );
      if (process.env.VERBOSE) console.log(result.misses.join("\n"));
    }
  }
  if (xstestAvailable()) {
    // Ordinary chat replies (XSTest completions): any flag is a false alarm. The training read a
    // third of the replies of two of the models, and none of the third model's.
    const classifier = textClassifiers.get("oversight-reasoning");
    for (const file of ["gpt4.csv", "llama2new.csv", "mistralinstruct.csv"]) {
      const replies = readXstestFile(file);
      const flagged = replies.filter((reply) => classifier.classify(reply.text).flagged).length;
      console.log(
        `oversight-reasoning false alarms on ${replies.length} XSTest ${file} replies: ${flagged} (${((100 * flagged) / replies.length).toFixed(1)}%)${trainingReplyFiles.includes(file) ? " (a third in training)" : " (held out)"}`,
      );
    }
  }
}
