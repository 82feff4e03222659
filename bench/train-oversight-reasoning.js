// Trains the oversight-reasoning model (src/detect/oversight-reasoning/oversight-model.json): an
// L2-regularised logistic regression over the features of oversight-features.ts, fitted with
// full-batch Adam. A text longer than one window counts through its highest-scoring window, as
// at inference (multiple-instance learning). The regularisation strength is chosen by 5-fold cross-validation on the
// training texts only; the test sets (unseen.jsonl, test.jsonl) are never read here.
// Run after `npm run build`: node bench/train-oversight-reasoning.js [--write]
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { textWindows, windowFeatures } from "../dist/detect/oversight-reasoning/oversight-features.js";
import { readLabelled } from "./detect-text-accuracy.js";
import { readXstestFile } from "./detect-xstest-data.js";

const dataDirectory = fileURLToPath(new URL("./data/oversight-reasoning/", import.meta.url));
const modelFile = fileURLToPath(
  new URL("../src/detect/oversight-reasoning/oversight-model.json", import.meta.url),
);
export const trainingSets = ["train", "ordinary", "dev", "held-out", "fresh", "final"];
export const trainingReplyFiles = ["gpt4.csv", "llama2new.csv"];
const epochs = 400;
const learningRate = 0.05;
const minimumTexts = 2;

function examplesOf(rows) {
  return rows.map((row) => ({
    label: row.label,
    weight: row.weight ?? 1,
    windows: textWindows(row.text, 6000).map((window) => [...windowFeatures(window).keys()]),
  }));
}

function vocabularyOf(examples) {
  const counts = new Map();
  for (const example of examples) {
    const seen = new Set(example.windows.flat());
    for (const feature of seen) counts.set(feature, (counts.get(feature) ?? 0) + 1);
  }
  const vocabulary = new Map();
  for (const [feature, count] of counts) if (count >= minimumTexts) vocabulary.set(feature, vocabulary.size);
  return vocabulary;
}

function indexed(examples, vocabulary) {
  return examples.map((example) => ({
    ...example,
    windows: example.windows
      .map((features) =>
        Int32Array.from(features.filter((f) => vocabulary.has(f)).map((f) => vocabulary.get(f))),
      )
      .filter((window) => window.length > 0),
  }));
}

const windowSum = (weights, bias, window) => {
  let sum = bias;
  for (const index of window) sum += weights[index];
  return sum;
};

export function fitModel(examples, size, lambda) {
  const weights = new Float64Array(size);
  let bias = -1;
  const m = new Float64Array(size + 1);
  const v = new Float64Array(size + 1);
  const gradient = new Float64Array(size + 1);
  const totalWeight = examples.reduce((sum, example) => sum + example.weight, 0);
  for (let epoch = 1; epoch <= epochs; epoch++) {
    gradient.fill(0);
    for (const example of examples) {
      if (example.windows.length === 0) continue;
      const window = example.windows.reduce((best, candidate) =>
        windowSum(weights, bias, candidate) > windowSum(weights, bias, best) ? candidate : best,
      );
      const p = 1 / (1 + Math.exp(-windowSum(weights, bias, window)));
      const error = (p - (example.label ? 1 : 0)) * example.weight;
      for (const index of window) gradient[index] += error;
      gradient[size] += error;
    }
    for (let index = 0; index <= size; index++) {
      const parameter = index === size ? bias : weights[index];
      const g = gradient[index] / totalWeight + (index === size ? 0 : lambda * parameter);
      m[index] = 0.9 * m[index] + 0.1 * g;
      v[index] = 0.999 * v[index] + 0.001 * g * g;
      const step =
        (learningRate * (m[index] / (1 - 0.9 ** epoch))) /
        (Math.sqrt(v[index] / (1 - 0.999 ** epoch)) + 1e-8);
      if (index === size) bias -= step;
      else weights[index] -= step;
    }
  }
  return { weights, bias };
}

function predict(model, example) {
  return example.windows.some((window) => windowSum(model.weights, model.bias, window) >= 0);
}

function f1Of(pairs) {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (const [label, flagged] of pairs) {
    if (flagged && label) tp++;
    else if (flagged) fp++;
    else if (label) fn++;
  }
  const precision = tp / (tp + fp || 1);
  const recall = tp / (tp + fn || 1);
  return precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
}

export function trainingRows() {
  const rows = trainingSets.flatMap((set) => readLabelled(`${dataDirectory}${set}.jsonl`));
  // Ordinary model replies (a third of two models' XSTest completions) as negatives: no oversight
  // reasoning in them. The third model's replies stay out, to count false alarms on.
  const replies = trainingReplyFiles.flatMap((file) =>
    readXstestFile(file).filter((_, index) => index % 3 === 0),
  );
  return [...rows, ...replies.map((reply) => ({ label: false, text: reply.text, weight: 0.5 }))];
}

function crossValidate(rows, lambda) {
  const pairs = [];
  for (let fold = 0; fold < 5; fold++) {
    const trainRows = rows.filter((_, index) => index % 5 !== fold);
    const testRows = rows.filter((_, index) => index % 5 === fold);
    const trainExamples = examplesOf(trainRows);
    const vocabulary = vocabularyOf(trainExamples);
    const model = fitModel(indexed(trainExamples, vocabulary), vocabulary.size, lambda);
    const testExamples = examplesOf(testRows).map((example, index) => ({
      ...example,
      text: testRows[index].text,
    }));
    for (const example of indexed(testExamples, vocabulary)) {
      const flagged = predict(model, example);
      pairs.push([example.label, flagged]);
      if (process.env.VERBOSE && flagged !== example.label)
        console.log(`${example.label ? "FN" : "FP"} ${example.text}`);
    }
  }
  return f1Of(pairs);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = trainingRows();
  console.log(`${rows.length} training texts (${rows.filter((row) => row.label).length} positive)`);
  let bestLambda = 0;
  let bestF1 = -1;
  for (const lambda of (process.env.LAMBDAS ?? "1e-3,3e-3,1e-2").split(",").map(Number)) {
    const f1 = crossValidate(rows, lambda);
    console.log(`lambda ${lambda}: 5-fold F1 ${f1.toFixed(3)}`);
    if (f1 > bestF1) [bestLambda, bestF1] = [lambda, f1];
  }
  const examples = examplesOf(rows);
  const vocabulary = vocabularyOf(examples);
  const model = fitModel(indexed(examples, vocabulary), vocabulary.size, bestLambda);
  const weights = {};
  for (const [feature, index] of [...vocabulary].sort((left, right) => (left[0] < right[0] ? -1 : 1))) {
    const weight = Math.round(model.weights[index] * 1000) / 1000;
    if (Math.abs(weight) >= 0.01) weights[feature] = weight;
  }
  console.log(`lambda ${bestLambda}; ${Object.keys(weights).length} of ${vocabulary.size} features kept`);
  if (process.argv.includes("--write")) {
    const version = `oversight-reasoning-lr-${new Date().toISOString().slice(0, 10)}`;
    writeFileSync(
      modelFile,
      `${JSON.stringify({ version, bias: Math.round(model.bias * 1000) / 1000, weights })}\n`,
    );
    console.log(`wrote ${modelFile}`);
  }
}
