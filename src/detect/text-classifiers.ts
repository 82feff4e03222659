import type { TextClassifier } from "./detector.js";
import { refusalClassifier } from "./refusal/refusal-classifier.js";

/** The offline text detectors `warden classify` can run, by name. */
export const textClassifiers: ReadonlyMap<string, TextClassifier> = new Map([
  [refusalClassifier.name, refusalClassifier],
]);
