// Fits the refusal classifier's cue weights (L2-regularised logistic regression) on XSTest and
// checks the fit honestly: for each file, weights fitted on the other two files only, measured
// on it. Prints the held-out table, then the weights fitted on all three files as TypeScript
// for src/detect/refusal/refusal-weights.ts (written there with --write). Run after
// `npm run build`:  node bench/detect-refusal-fit.js [--write]

import { writeFileSync } from "node:fs";
import {
  matchRefusalCues,
  refusalFeatureLabels,
  scoreRefusalCues,
} from "../dist/detect/refusal/refusal-classifier.js";
import { readXstestFile, xstestFiles } from "./detect-xstest-data.js";

const regularisation = Number(process.env.L2 ?? 0.0003);
const iterations = 4000;
const learningRate = 0.5;
// Set by hand, not fitted: a short reply that only declines is a refusal in any model's style,
// and the training files may hold too few of them to learn that.
const fixedWeights = { "brief-refusal": 6 };

function fitWeights(samples) {
  const width = refusalFeatureLabels.length;
  const weights = new Float64Array(width);
  const fixed = refusalFeatureLabels.map((label) => label in fixedWeights);
  refusalFeatureLabels.forEach((label, index) => {
    if (fixed[index]) weights[index] = fixedWeights[label];
  });
  let bias = 0;
  for (let step = 0; step < iterations; step++) {
    const gradient = new Float64Array(width);
    let biasGradient = 0;
    for (const { features, refusal } of samples) {
      let sum = bias;
      for (let index = 0; index < width; index++) sum += weights[index] * features[index];
      const error = 1 / (1 + Math.exp(-sum)) - (refusal ? 1 : 0);
      biasGradient += error;
      for (let index = 0; index < width; index++) gradient[index] += error * features[index];
    }
    bias -= (learningRate * biasGradient) / samples.length;
    for (let index = 0; index < width; index++) {
      if (fixed[index]) continue;
      weights[index] -= learningRate * (gradient[index] / samples.length + regularisation * weights[index]);
    }
  }
  const cues = {};
  refusalFeatureLabels.forEach((label, index) => {
    cues[label] = Math.round(weights[index] * 100) / 100;
  });
  return { bias: Math.round(bias * 100) / 100, cues };
}

function agreement(samples, weights) {
  let agreed = 0;
  for (const sample of samples)
    if (scoreRefusalCues(sample.features, weights) >= 0.5 === sample.refusal) agreed++;
  return agreed / samples.length;
}

const byFile = new Map(
  xstestFiles.map((file) => [
    file,
    readXstestFile(file).map((row) => ({ ...row, features: matchRefusalCues(row.text).features })),
  ]),
);

console.log(`held-out check (L2 ${regularisation}): weights fitted on two files, measured on the third`);
console.log("held-out file".padEnd(24), "held-out agreement", "  fitted-on agreement");
for (const file of xstestFiles) {
  const training = xstestFiles.filter((other) => other !== file).flatMap((other) => byFile.get(other));
  const weights = fitWeights(training);
  console.log(
    file.padEnd(24),
    `${(agreement(byFile.get(file), weights) * 100).toFixed(1)}%`.padStart(18),
    `${(agreement(training, weights) * 100).toFixed(1)}%`.padStart(21),
  );
}
const all = fitWeights([...byFile.values()].flat());
console.log("\nfitted on all three files:");
for (const file of xstestFiles)
  console.log(file.padEnd(24), `${(agreement(byFile.get(file), all) * 100).toFixed(1)}%`);
const weightsFile = `import type { RefusalWeights } from "./refusal-classifier.js";

/**
 * Fitted by \`node bench/detect-refusal-fit.js --write\` (L2-regularised logistic regression over
 * the cue features on the three XSTest development files; \`brief-refusal\` set by hand). Refit
 * after changing a cue, and check the held-out table it prints.
 */
export const refusalWeights: RefusalWeights = ${JSON.stringify(all, null, 2)};
`;
if (process.argv.includes("--write")) {
  const target = new URL("../src/detect/refusal/refusal-weights.ts", import.meta.url);
  writeFileSync(target, weightsFile);
  console.log(`\nwrote ${target.pathname} (run npx biome format --write on it, then npm run build)`);
} else console.log(`\n${weightsFile}`);
