import type { EventData, EventType, StoredEvent } from "../core/events.js";

/** The data of a `finding` event, as a detector produces it; the pipeline appends it. */
export type FindingData = EventData<"finding">;

/** The data of a `claim-check` event, as a detector produces it (the pipeline adds where it came from). */
export type ClaimCheckData = Omit<EventData<"claim-check">, "sourceSeq" | "ordinal">;

/**
 * A claim checked against the record: appended as a `claim-check` event, then `finding` (when
 * set) with `claimCheckId` naming that event.
 */
export interface ClaimCheckReport {
  claimCheck: ClaimCheckData;
  finding?: FindingData;
}

/** What a detector reports about one event: findings, or (claim verification) claim checks. */
export type DetectorReport = FindingData | ClaimCheckReport;

export function isClaimCheckReport(report: DetectorReport): report is ClaimCheckReport {
  return typeof (report as { claimCheck?: unknown }).claimCheck === "object";
}

/** A labelled stretch of a text: `[start, end)` in UTF-16 code units, as `String.slice` counts. */
export interface EvidenceSpan {
  start: number;
  end: number;
  label: string;
}

export interface TextClassification {
  flagged: boolean;
  /** 0..1; `flagged` is `score >= 0.5`. */
  score: number;
  evidence: EvidenceSpan[];
}

/** An offline text detector on its own: what `warden classify NAME` runs. */
export interface TextClassifier {
  readonly name: string;
  readonly description: string;
  /** An extra boolean output field equal to `flagged` (e.g. `refusal`), for readers that expect it. */
  readonly flagField?: string;
  classify(text: string): TextClassification;
}

export interface DetectorContext {
  /** Whether the event comes from evaluation traffic (agent id `eval:...`), which must not feed baselines. */
  readonly evaluation: boolean;
}

/**
 * Reads events of the types it names and returns findings about them. Detectors run off the
 * request path, in the detection pipeline; one that throws is logged and skipped for that event.
 */
export interface Detector {
  readonly name: string;
  /**
   * Keeps state across events (baselines, sessions). After a restart the pipeline replays the
   * earlier events through it to rebuild that state; findings it had already reported (same
   * key, see `findingKey`) are not written again.
   */
  readonly stateful?: boolean;
  readonly eventTypes: readonly EventType[];
  inspect(
    event: StoredEvent,
    context: DetectorContext,
  ): readonly DetectorReport[] | Promise<readonly DetectorReport[]>;
}
