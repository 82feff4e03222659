import type { StoredEvent } from "../core/events.js";
import { evaluationAgentPrefix } from "./detection-pipeline.js";
import {
  type ClaimCheckData,
  type Detector,
  type DetectorReport,
  type FindingData,
  isClaimCheckReport,
} from "./detector.js";
import type { ReportSource } from "./record-reports.js";
import { claimCheckKey, findingKey } from "./report-keys.js";

interface Provenance {
  sourceSeq: number;
  sourceEventId: string;
  agentId: string;
  sessionId: string;
}

export interface ScannedFinding extends FindingData, Provenance {}

export interface ScannedClaimCheck extends ClaimCheckData, Provenance {}

/** A report the log does not hold yet, with what `appendReport` needs to record it. */
export interface ScannedReport {
  source: ReportSource;
  detector: string;
  ordinal: number;
  report: DetectorReport;
}

export interface ScanResult {
  inspected: number;
  /** Findings about events at or after `since` that the log does not hold yet. */
  findings: ScannedFinding[];
  /** Claim checks about those events that the log does not hold yet. */
  claimChecks: ScannedClaimCheck[];
  /** The same, as reports to record (`warden scan --record`), in the order they were made. */
  reports: ScannedReport[];
  /** Findings and claim checks the scan reproduced that the log already holds (not reported again). */
  alreadyReported: number;
}

/**
 * Re-runs detectors over recorded events, oldest first (stateful detectors see the whole
 * history, so their baselines are what they were), and keeps the reports about events from
 * `since` on whose key (`findingKey`, `claimCheckKey`) is not among `reported`: re-running twice
 * finds nothing new.
 */
export async function scanEvents(options: {
  events: readonly StoredEvent[];
  detectors: readonly Detector[];
  reported: ReadonlySet<string> | ReadonlyMap<string, string>;
  since: Date;
}): Promise<ScanResult> {
  const result: ScanResult = { inspected: 0, findings: [], claimChecks: [], reports: [], alreadyReported: 0 };
  const seen = new Set(options.reported.keys());
  const isNew = (key: string) => {
    if (seen.has(key)) {
      result.alreadyReported++;
      return false;
    }
    seen.add(key);
    return true;
  };
  for (const event of options.events) {
    if (event.type === "finding" || event.type === "claim-check") continue;
    const context = { evaluation: event.agentId.startsWith(evaluationAgentPrefix) };
    const report = Date.parse(event.time) >= options.since.getTime();
    if (report) result.inspected++;
    for (const detector of options.detectors) {
      if (!detector.eventTypes.includes(event.type)) continue;
      let produced: readonly DetectorReport[];
      try {
        produced = await detector.inspect(event, context);
      } catch {
        continue;
      }
      if (!report) continue;
      const provenance: Provenance = {
        sourceSeq: event.seq,
        sourceEventId: event.id,
        agentId: event.agentId,
        sessionId: event.sessionId,
      };
      for (const [ordinal, item] of produced.entries()) {
        const claimCheck = isClaimCheckReport(item) ? item.claimCheck : undefined;
        const finding = isClaimCheckReport(item) ? item.finding : item;
        const newClaimCheck = claimCheck !== undefined && isNew(claimCheckKey(claimCheck));
        const newFinding = finding !== undefined && isNew(findingKey(finding));
        if (newClaimCheck) result.claimChecks.push({ ...claimCheck, ...provenance });
        if (newFinding) result.findings.push({ ...finding, ...provenance });
        if (newClaimCheck || newFinding)
          result.reports.push({ source: sourceOf(event), detector: detector.name, ordinal, report: item });
      }
    }
  }
  return result;
}

function sourceOf(event: StoredEvent): ReportSource {
  const { seq, id, agentId, sessionId, traceId, spanId } = event;
  return { seq, id, agentId, sessionId, traceId, spanId };
}
