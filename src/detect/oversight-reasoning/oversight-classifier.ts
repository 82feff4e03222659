import { scoreCues } from "../cue-scorer.js";
import type { TextClassification, TextClassifier } from "../detector.js";
import { oversightScorer } from "./oversight-cues.js";

/**
 * Whether a text reasons about the writer's own oversight (being watched, tested or trained;
 * avoiding shutdown or modification; copying its weights; hiding from or disabling its
 * monitors; acting differently when unobserved), offline: a logistic score over the cues in
 * `oversight-cues.ts`, with the matched stretches as evidence.
 */
export function classifyOversightReasoning(text: string): TextClassification {
  return scoreCues(oversightScorer, text);
}

export const oversightReasoningClassifier: TextClassifier = {
  name: "oversight-reasoning",
  description: "the writer reasoning about its own oversight: monitored, tested, shutdown, weights, evasion",
  classify: classifyOversightReasoning,
};
