import type { StoredEvent } from "../core/events.js";
import type { FindingData, TextClassification } from "./detector.js";
import type { ReplyText } from "./model-reply-text.js";

export interface FindingDescription {
  detector: string;
  severity: FindingData["severity"];
  explanation: string;
  [extra: string]: unknown;
}

/** The strongest flagged text of an event, as one finding with its spans as evidence. */
export function strongestTextFinding(
  event: StoredEvent,
  texts: readonly ReplyText[],
  classify: (text: string) => TextClassification,
  describe: (quote: string, best: ReplyText) => FindingDescription,
): FindingData[] {
  let best: { text: ReplyText; result: TextClassification } | null = null;
  for (const text of texts) {
    const result = classify(text.text);
    if (result.flagged && (best === null || result.score > best.result.score)) best = { text, result };
  }
  if (best === null) return [];
  const { text, result } = best;
  const first = result.evidence[0];
  const quoteStart = Math.max(0, (first?.start ?? 0) - 40);
  const quote = text.text
    .slice(quoteStart, quoteStart + 160)
    .replace(/\s+/g, " ")
    .trim();
  return [
    {
      ...describe(quote, text),
      score: Math.round(result.score * 10_000) / 10_000,
      evidence: result.evidence.map((span) => ({
        eventId: event.id,
        span: [span.start, span.end] as [number, number],
        field: text.field,
        label: span.label,
      })),
    },
  ];
}
