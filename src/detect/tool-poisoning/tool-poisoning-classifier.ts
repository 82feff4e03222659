import { scoreCues } from "../cue-scorer.js";
import type { TextClassification, TextClassifier } from "../detector.js";
import { toolPoisoningScorer } from "./tool-poisoning-cues.js";

/**
 * Whether a tool description, schema or tool output carries instructions aimed at the agent
 * (prompt injection), offline: a logistic score over the cues in `tool-poisoning-cues.ts`.
 */
export function classifyToolPoisoning(text: string): TextClassification {
  return scoreCues(toolPoisoningScorer, text);
}

export const toolPoisoningClassifier: TextClassifier = {
  name: "tool-poisoning",
  description: "instructions aimed at the agent hidden in a tool description, schema or output",
  classify: classifyToolPoisoning,
};
