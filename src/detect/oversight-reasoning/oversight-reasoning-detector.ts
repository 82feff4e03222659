import type { StoredEvent } from "../../core/events.js";
import { modelWrittenTexts } from "../agent-texts.js";
import type { Detector, FindingData } from "../detector.js";
import { strongestTextFinding } from "../text-finding.js";
import { classifyOversightReasoning } from "./oversight-classifier.js";

/** A `high` finding for a model reply (or its reasoning) that reasons about its own oversight. */
export function createOversightReasoningDetector(): Detector {
  return {
    name: "oversight-reasoning",
    eventTypes: ["model-response"],
    inspect(event: StoredEvent): FindingData[] {
      return strongestTextFinding(
        event,
        modelWrittenTexts(event.data),
        classifyOversightReasoning,
        (quote, text) => ({
          detector: "oversight-reasoning",
          severity: "high",
          explanation: `the model reasons about its own oversight in ${text.field}: "${quote}"`,
        }),
      );
    },
  };
}
