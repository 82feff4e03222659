import type { TextClassifier } from "./detector.js";
import { oversightReasoningClassifier } from "./oversight-reasoning/oversight-classifier.js";
import { refusalClassifier } from "./refusal/refusal-classifier.js";
import { toolPoisoningClassifier } from "./tool-poisoning/tool-poisoning-classifier.js";

/** The offline text detectors `warden classify` can run, by name. */
export const textClassifiers: ReadonlyMap<string, TextClassifier> = new Map([
  [refusalClassifier.name, refusalClassifier],
  [oversightReasoningClassifier.name, oversightReasoningClassifier],
  [toolPoisoningClassifier.name, toolPoisoningClassifier],
]);
