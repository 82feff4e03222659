import { WardenError } from "../core/errors.js";
import type { EventStore } from "../core/event-store.js";
import { type EventData, eventDataSchemas } from "../core/events.js";
import { newSpanId } from "../core/ids.js";
import { type DetectorReport, isClaimCheckReport } from "./detector.js";
import { claimCheckKey, findingKey } from "./report-keys.js";

/** The event a report is about, as much of it as the report's record needs. */
export interface ReportSource {
  seq: number;
  id: string;
  agentId: string;
  sessionId: string;
  traceId: string;
  spanId: string;
}

export interface RecordedCount {
  recorded: number;
  /** Reports whose key the log already holds (not written again). */
  alreadyReported: number;
}

/**
 * Appends one detector report about `source`: a finding, or a claim check followed by its
 * finding (which names the claim check's event in `claimCheckId`). Reports whose key is in
 * `keys` are not written again; a claim check already recorded lends its event id to a finding
 * that a crash kept from being written. `keys` gains what is written. Throws on a malformed
 * report or a failed append (nothing after that is written).
 */
export async function appendReport(
  store: EventStore,
  input: {
    source: ReportSource;
    ordinal: number;
    report: DetectorReport;
    keys: Map<string, string>;
    /** Skip the report's finding: the resume point says it was written. */
    findingWritten?: boolean;
  },
): Promise<RecordedCount> {
  const { source, ordinal, report, keys } = input;
  const count: RecordedCount = { recorded: 0, alreadyReported: 0 };
  const identity = {
    agentId: source.agentId,
    sessionId: source.sessionId,
    traceId: source.traceId,
    parentSpanId: source.spanId,
  };
  const from = { ordinal, sourceSeq: source.seq };
  let finding = isClaimCheckReport(report) ? report.finding : report;
  if (isClaimCheckReport(report)) {
    const data = checked("claim-check", { ...report.claimCheck, ...from });
    const key = claimCheckKey(data);
    let claimCheckId = keys.get(key);
    if (claimCheckId === undefined) {
      const event = await store.append(
        { type: "claim-check", ...identity, spanId: newSpanId(), data },
        { durability: "buffered" },
      );
      claimCheckId = event.id;
      keys.set(key, claimCheckId);
      count.recorded++;
    } else count.alreadyReported++;
    if (finding !== undefined) finding = { ...finding, claimCheckId };
  }
  if (finding === undefined) return count;
  const key = findingKey(finding);
  if (keys.has(key) || input.findingWritten === true) {
    count.alreadyReported++;
    return count;
  }
  const data = checked("finding", { ...finding, ...from, sourceEventId: source.id });
  const event = await store.append(
    { type: "finding", ...identity, spanId: newSpanId(), data },
    { durability: "buffered" },
  );
  keys.set(key, event.id);
  count.recorded++;
  return count;
}

/** The data as given (extra fields a detector adds are kept), once its schema accepts it. */
function checked<T extends "finding" | "claim-check">(type: T, data: EventData<T>): EventData<T> {
  const result = eventDataSchemas[type].safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new WardenError(
      "input-invalid",
      `malformed ${type}: ${issue?.path.join(".") || "data"}: ${issue?.message}`,
    );
  }
  return data;
}
