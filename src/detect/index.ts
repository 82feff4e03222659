import type { Detector } from "./detector.js";
import { createRefusalDetector } from "./refusal/refusal-detector.js";

export { classifyJsonLines } from "./classify-json-lines.js";
export {
  type DetectionPipeline,
  type DetectionPipelineOptions,
  evaluationAgentPrefix,
  startDetectionPipeline,
} from "./detection-pipeline.js";
export type {
  Detector,
  DetectorContext,
  EvidenceSpan,
  FindingData,
  TextClassification,
  TextClassifier,
} from "./detector.js";
export { modelReplyText, type ReplyText } from "./model-reply-text.js";
export { classifyRefusal, refusalClassifier } from "./refusal/refusal-classifier.js";
export { createRefusalDetector } from "./refusal/refusal-detector.js";
export { textClassifiers } from "./text-classifiers.js";

/** The detectors the daemon runs by default. */
export function createDefaultDetectors(): Detector[] {
  return [createRefusalDetector()];
}
