import type { TextClassification, TextClassifier } from "../detector.js";
import { oversightModel, scoreWithModel } from "./oversight-model.js";

/**
 * Whether a text reasons about the writer's own oversight (being watched, tested or trained;
 * avoiding shutdown or modification; copying its weights; hiding from or disabling its
 * monitors; acting differently when unobserved), offline: the learned model of
 * `oversight-model.ts` over words, word pairs and the concepts they belong to,
 * with the words that weighed most as evidence.
 */
export function classifyOversightReasoning(text: string): TextClassification {
  return scoreWithModel(oversightModel, text);
}

export const oversightReasoningClassifier: TextClassifier = {
  name: "oversight-reasoning",
  description: "the writer reasoning about its own oversight: monitored, tested, shutdown, weights, evasion",
  classify: classifyOversightReasoning,
};
