import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { dataFiles } from "../../core/data-dir.js";
import { WardenError } from "../../core/errors.js";
import {
  createDefaultDetectors,
  type DefaultDetectorOptions,
  reportKeyOf,
  scanEvents,
} from "../../detect/index.js";
import type { Tripwires } from "../../policy/constitution-schema.js";
import { loadConstitutionFile } from "../../policy/load-constitution-file.js";
import { loadConfigFile } from "../../server/load-config.js";
import { createSecretRedactor } from "../../store/redact-secrets.js";
import { createClaimsDetector } from "../../verify/index.js";
import { dataDirFrom } from "../common-options.js";
import { printJsonLine, printLine } from "../output.js";
import { readStore } from "../read-store.js";
import { recordReportsIn } from "../record-reports.js";
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

/** The manifests and tripwires `warden up` would give its detectors, from the same files. */
async function detectorOptions(
  options: ScanCommandOptions,
  dataDir: string,
): Promise<DefaultDetectorOptions> {
  const detectorOptions: DefaultDetectorOptions = {};
  if (options.config !== undefined) {
    const config = loadConfigFile(path.resolve(options.config));
    detectorOptions.manifests = new Map(Object.entries(config.detection?.manifests ?? {}));
  }
  const fingerprintFile = path.join(dataDir, dataFiles.secretKey);
  const redact = existsSync(fingerprintFile) ? createSecretRedactor(readFileSync(fingerprintFile)) : null;
  let tripwires: Tripwires | null = null;
  if (options.policy !== undefined) {
    const loaded = await loadConstitutionFile(path.resolve(options.policy));
    if (!loaded.ok) throw new WardenError("usage", loaded.problems.join("\n"));
    tripwires = loaded.constitution.tripwires ?? null;
  }
  if (redact !== null) {
    // Decoys planted in sandbox sessions are learned from their decoy-plant records.
    detectorOptions.tripwires = {
      tripwires: () => tripwires,
      fingerprint: (secret: string) => (redact({ token: secret }) as { token: string }).token,
    };
  } else if (tripwires !== null) {
    throw new WardenError(
      "usage",
      `--policy: ${dataDir} holds no fingerprint key, so its decoy credentials cannot be matched (has warden up run there?)`,
    );
  }
  return detectorOptions;
}

export async function runScanCommand(options: ScanCommandOptions): Promise<void> {
  const since = parseSince(options.since);
  const dataDir = dataDirFrom(options);
  const events = readStore(dataDir, { limit: 10_000_000 });
  const reported = new Map(
    events
      .filter((event) => event.type === "finding" || event.type === "claim-check")
      .map((event) => [reportKeyOf(event), event.id]),
  );
  const result = await scanEvents({
    events,
    detectors: [...createDefaultDetectors(await detectorOptions(options, dataDir)), createClaimsDetector()],
    reported,
    since,
  });
  const recorded = options.record ? await recordReportsIn(dataDir, { reports: result.reports }) : null;
  if (options.json) {
    for (const check of result.claimChecks) printJsonLine({ type: "claim-check", ...check });
    for (const finding of result.findings) printJsonLine({ type: "finding", ...finding });
    return;
  }
  for (const check of result.claimChecks) {
    printLine(`#${check.sourceSeq} claim ${check.verdict} (${check.kind}): "${check.claim}" ${check.reason}`);
  }
  for (const finding of result.findings) {
    printLine(`#${finding.sourceSeq} ${finding.detector} ${finding.severity}: ${finding.explanation}`);
  }
  printLine(
    `${result.inspected} events since ${since.toISOString()} scanned: ${result.findings.length} new findings, ${result.claimChecks.length} new claim checks, ${result.alreadyReported} already in the log${recorded ? `; recorded ${recorded.recorded}` : ""}`,
  );
}
