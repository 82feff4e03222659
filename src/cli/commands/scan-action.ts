import { WardenError } from "../../core/errors.js";
import { findingKey } from "../../detect/detection-pipeline.js";
import { createDefaultDetectors } from "../../detect/index.js";
import { scanEvents } from "../../detect/scan-events.js";
import { createClaimsDetector } from "../../verify/index.js";
import { dataDirFrom } from "../common-options.js";
import { printJsonLine, printLine } from "../output.js";
import { readStore } from "../read-store.js";
import type { ScanCommandOptions } from "./scan.js";

const durationUnits: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function parseSince(value: string, now = Date.now()): Date {
  const duration = /^(\d+)([smhd])$/.exec(value.trim());
  if (duration) return new Date(now - Number(duration[1]) * durationUnits[duration[2]!]!);
  const time = Date.parse(value);
  if (Number.isNaN(time))
    throw new WardenError("usage", `--since: "${value}" is neither an ISO time nor a duration like 24h`);
  return new Date(time);
}

export async function runScanCommand(options: ScanCommandOptions): Promise<void> {
  const since = parseSince(options.since);
  const events = readStore(dataDirFrom(options), { limit: 10_000_000 });
  const reported = new Set(
    events
      .filter((event) => event.type === "finding")
      .map((event) => findingKey(event.data as { detector: unknown })),
  );
  const result = await scanEvents({
    events,
    detectors: [...createDefaultDetectors(), createClaimsDetector()],
    reported,
    since,
  });
  if (options.json) {
    for (const finding of result.findings) printJsonLine(finding);
    return;
  }
  for (const finding of result.findings) {
    printLine(`#${finding.sourceSeq} ${finding.detector} ${finding.severity}: ${finding.explanation}`);
  }
  printLine(
    `${result.inspected} events since ${since.toISOString()} scanned: ${result.findings.length} new findings, ${result.alreadyReported} already in the log`,
  );
}
