import { createConstraintProbingDetector } from "./constraint-probing/constraint-probing-detector.js";
import type { Detector } from "./detector.js";
import { createDriftDetector } from "./drift/drift-detector.js";
import { createLatencyShiftDetector } from "./latency-shift/latency-shift-detector.js";
import { createOversightReasoningDetector } from "./oversight-reasoning/oversight-reasoning-detector.js";
import { createRefusalDetector } from "./refusal/refusal-detector.js";
import { createRefusalSpikeDetector } from "./refusal-spike/refusal-spike-detector.js";
import { createToolPoisoningDetector } from "./tool-poisoning/tool-poisoning-detector.js";
import { createTripwireDetector, type TripwireDetectorOptions } from "./tripwires/tripwire-detector.js";
import { createUnexpectedToolDetector } from "./unexpected-tool/unexpected-tool-detector.js";

export { classifyJsonLines } from "./classify-json-lines.js";
export {
  type ConstraintProbingOptions,
  createConstraintProbingDetector,
} from "./constraint-probing/constraint-probing-detector.js";
export {
  type DetectionPipeline,
  type DetectionPipelineOptions,
  evaluationAgentPrefix,
  startDetectionPipeline,
} from "./detection-pipeline.js";
export {
  type ClaimCheckData,
  type ClaimCheckReport,
  type Detector,
  type DetectorContext,
  type DetectorReport,
  type EvidenceSpan,
  type FindingData,
  isClaimCheckReport,
  type TextClassification,
  type TextClassifier,
} from "./detector.js";
export { createDriftDetector, type DriftOptions } from "./drift/drift-detector.js";
export {
  createLatencyShiftDetector,
  type LatencyShiftOptions,
} from "./latency-shift/latency-shift-detector.js";
export { modelReplyText, type ReplyText } from "./model-reply-text.js";
export {
  classifyOversightReasoning,
  oversightReasoningClassifier,
} from "./oversight-reasoning/oversight-classifier.js";
export { createOversightReasoningDetector } from "./oversight-reasoning/oversight-reasoning-detector.js";
export { appendReport, type RecordedCount, type ReportSource } from "./record-reports.js";
export { classifyRefusal, refusalClassifier } from "./refusal/refusal-classifier.js";
export { createRefusalDetector } from "./refusal/refusal-detector.js";
export {
  createRefusalSpikeDetector,
  type RefusalSpikeOptions,
} from "./refusal-spike/refusal-spike-detector.js";
export { claimCheckKey, findingKey, reportedKeys, reportKeyOf } from "./report-keys.js";
export { type ScannedReport, type ScanResult, scanEvents } from "./scan-events.js";
export { textClassifiers } from "./text-classifiers.js";
export {
  classifyToolPoisoning,
  toolPoisoningClassifier,
} from "./tool-poisoning/tool-poisoning-classifier.js";
export { createToolPoisoningDetector } from "./tool-poisoning/tool-poisoning-detector.js";
export { createDecoyServer, decoyReply } from "./tripwires/decoy-server.js";
export { decoyFingerprints, plantDecoyFiles } from "./tripwires/plant-decoys.js";
export {
  createTripwireDetector,
  type TripwireDetectorOptions,
  type TripwireSet,
} from "./tripwires/tripwire-detector.js";
export { compileToolManifests } from "./unexpected-tool/tool-manifests.js";
export {
  createUnexpectedToolDetector,
  type UnexpectedToolOptions,
} from "./unexpected-tool/unexpected-tool-detector.js";

export interface DefaultDetectorOptions {
  /** The decoys in force and the store's fingerprint; without them there is no tripwire detector. */
  tripwires?: TripwireDetectorOptions;
  /** Per agent id or glob, the tools it declared (`detection.manifests` in the config). */
  manifests?: ReadonlyMap<string, readonly string[]>;
}

/** The detectors the daemon runs by default. */
export function createDefaultDetectors(options: DefaultDetectorOptions = {}): Detector[] {
  return [
    ...(options.tripwires ? [createTripwireDetector(options.tripwires)] : []),
    createRefusalDetector(),
    createOversightReasoningDetector(),
    createToolPoisoningDetector(),
    createConstraintProbingDetector(),
    createUnexpectedToolDetector(options.manifests ? { manifests: options.manifests } : {}),
    createRefusalSpikeDetector(),
    createLatencyShiftDetector(),
    createDriftDetector(),
  ];
}
