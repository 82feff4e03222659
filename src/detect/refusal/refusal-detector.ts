import type { StoredEvent } from "../../core/events.js";
import type { Detector, FindingData } from "../detector.js";
import { modelReplyText } from "../model-reply-text.js";
import { classifyRefusal } from "./refusal-classifier.js";

/**
 * A finding (severity `info`) for each successful model reply that refuses, fully or partly.
 * One refusal is not alarming; refusal spikes against an agent's baseline are (issue 7).
 */
export function createRefusalDetector(): Detector {
  return {
    name: "refusal",
    eventTypes: ["model-response"],
    inspect(event: StoredEvent): FindingData[] {
      const data = event.data as { status?: unknown };
      if (typeof data.status !== "number" || data.status >= 300) return [];
      let best: { field: string; text: string; score: number; evidence: FindingData["evidence"] } | null =
        null;
      for (const { field, text } of modelReplyText(event.data)) {
        const result = classifyRefusal(text);
        if (!result.flagged || (best !== null && best.score >= result.score)) continue;
        best = {
          field,
          text,
          score: result.score,
          evidence: result.evidence.map((span) => ({
            eventId: event.id,
            span: [span.start, span.end] as [number, number],
            field,
            label: span.label,
          })),
        };
      }
      if (best === null) return [];
      const quote = best.text.trim().slice(0, 120).replace(/\s+/g, " ");
      return [
        {
          detector: "refusal",
          severity: "info",
          explanation: `the model refused (score ${best.score.toFixed(2)}): "${quote}${best.text.trim().length > 120 ? "…" : ""}"`,
          score: Math.round(best.score * 10_000) / 10_000,
          evidence: best.evidence,
        },
      ];
    },
  };
}
