import type { StoredEvent } from "../core/events.js";
import { evaluationAgentPrefix, findingKey } from "./detection-pipeline.js";
import type { Detector, FindingData } from "./detector.js";

export interface ScannedFinding extends FindingData {
  sourceSeq: number;
  sourceEventId: string;
  agentId: string;
  sessionId: string;
}

export interface ScanResult {
  inspected: number;
  /** Findings about events at or after `since` that the log does not hold yet. */
  findings: ScannedFinding[];
  /** Findings the scan reproduced that the log already holds (not reported again). */
  alreadyReported: number;
}

/**
 * Re-runs detectors over recorded events, oldest first (stateful detectors see the whole
 * history, so their baselines are what they were), and keeps the findings about events from
 * `since` on whose key (`findingKey`) is not among `reported`: re-running twice finds nothing new.
 */
export async function scanEvents(options: {
  events: readonly StoredEvent[];
  detectors: readonly Detector[];
  reported: ReadonlySet<string>;
  since: Date;
}): Promise<ScanResult> {
  const findings: ScannedFinding[] = [];
  const seen = new Set(options.reported);
  let alreadyReported = 0;
  let inspected = 0;
  for (const event of options.events) {
    if (event.type === "finding") continue;
    const context = { evaluation: event.agentId.startsWith(evaluationAgentPrefix) };
    const report = Date.parse(event.time) >= options.since.getTime();
    if (report) inspected++;
    for (const detector of options.detectors) {
      if (!detector.eventTypes.includes(event.type)) continue;
      let produced: readonly FindingData[];
      try {
        produced = await detector.inspect(event, context);
      } catch {
        continue;
      }
      if (!report) continue;
      for (const finding of produced) {
        const key = findingKey(finding);
        if (seen.has(key)) {
          alreadyReported++;
          continue;
        }
        seen.add(key);
        findings.push({
          ...finding,
          sourceSeq: event.seq,
          sourceEventId: event.id,
          agentId: event.agentId,
          sessionId: event.sessionId,
        });
      }
    }
  }
  return { inspected, findings, alreadyReported };
}
