import { createHash, type KeyObject } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { WardenError } from "../core/errors.js";
import type { StoredEvent } from "../core/events.js";
import { parseStrictJson } from "../core/strict-json.js";
import type { EventRow } from "./sqlite/sqlite-event-store.js";
import { type VerifyReport, verifyLog } from "./verify-log.js";

export interface ExportSelection {
  sessionId?: string;
  agentId?: string;
  /** ISO time: events at or after it. */
  since?: string;
}

export interface ExportManifest {
  format: "warden-export/v1";
  createdAt: string;
  selection: ExportSelection;
  /** The stretch of the log written out: from a checkpoint (or seq 1) to the checkpoint after the last selected event. */
  range: { fromSeq: number; toSeq: number };
  selectedEvents: number;
  contextEvents: number;
  /** The highest seq a signed checkpoint in the stretch commits to. */
  signedThroughSeq: number | null;
  /** Selected events after the last checkpoint: in the chain, but not yet signed. */
  unsignedSelected: number;
  eventsSha256: string;
}

interface ExportLine {
  seq: number;
  hash: string;
  /** The canonical text that was hashed, byte for byte. */
  body: string;
  selected: boolean;
}

const files = {
  events: "events.jsonl",
  manifest: "manifest.json",
  publicKey: "public-key.pem",
  summary: "summary.md",
};

function matches(event: StoredEvent, selection: ExportSelection): boolean {
  if (selection.sessionId !== undefined && event.sessionId !== selection.sessionId) return false;
  if (selection.agentId !== undefined && event.agentId !== selection.agentId) return false;
  if (selection.since !== undefined && event.time < selection.since) return false;
  return true;
}

/**
 * Writes a self-verifying record of the selected events: the stretch of the hash chain that
 * holds them, from the checkpoint before the first to the checkpoint after the last (a hash chain
 * proves an event only together with every event between it and a signed checkpoint, so the
 * events in between are included, marked as context), the public key, a manifest and a summary
 * for people. `verifyExport` checks it with nothing but the directory (and, better, a public key
 * obtained separately).
 */
export function exportRecord(options: {
  rows: () => Iterable<EventRow>;
  selection: ExportSelection;
  outDir: string;
  publicKeyFile: string | null;
  now?: Date;
}): ExportManifest {
  const { selection } = options;
  if (selection.sessionId === undefined && selection.agentId === undefined && selection.since === undefined)
    throw new WardenError("usage", "choose what to export: --session ID, --agent ID and/or --since TIME");
  if (existsSync(options.outDir) && readdirSync(options.outDir).length > 0)
    throw new WardenError("usage", `${options.outDir} is not empty; choose a new directory for the export`);

  // First pass: where the selected events are, and the checkpoints around them.
  let firstSelected: number | null = null;
  let lastSelected: number | null = null;
  const checkpoints: number[] = [];
  let head = 0;
  let firstRow: number | null = null;
  for (const row of options.rows()) {
    head = row.seq;
    firstRow ??= row.seq;
    const event = JSON.parse(row.body) as StoredEvent;
    if (event.type === "checkpoint") checkpoints.push(row.seq);
    else if (matches(event, selection)) {
      firstSelected ??= row.seq;
      lastSelected = row.seq;
    }
  }
  if (firstSelected === null || lastSelected === null)
    throw new WardenError("usage", "no events match the selection; nothing was exported");
  const before = checkpoints.filter((seq) => seq < (firstSelected as number)).at(-1);
  const checkpointBefore = before ?? firstRow ?? 1;
  const toSeq = checkpoints.find((seq) => seq > (lastSelected as number)) ?? head;

  // Second pass: write the stretch.
  mkdirSync(options.outDir, { recursive: true });
  const lines: string[] = [];
  const hash = createHash("sha256");
  let selectedEvents = 0;
  let contextEvents = 0;
  let signedThroughSeq: number | null = null;
  const selectedSeqs: number[] = [];
  const summaryRows: string[] = [];
  const counts = new Map<string, number>();
  for (const row of options.rows()) {
    if (row.seq < checkpointBefore || row.seq > toSeq) continue;
    const event = JSON.parse(row.body) as StoredEvent;
    const selected = event.type !== "checkpoint" && matches(event, selection);
    if (event.type === "checkpoint") {
      const headSeq = Number((event.data as { headSeq: number }).headSeq);
      signedThroughSeq = Math.max(signedThroughSeq ?? 0, headSeq);
    }
    if (selected) {
      selectedEvents++;
      selectedSeqs.push(row.seq);
      counts.set(event.type, (counts.get(event.type) ?? 0) + 1);
      summaryRows.push(
        `| ${row.seq} | ${event.time} | ${event.agentId} | ${event.sessionId} | ${event.type} | ${describe(event)} |`,
      );
    } else contextEvents++;
    const line = `${JSON.stringify({ seq: row.seq, hash: row.hash, body: row.body, selected } satisfies ExportLine)}\n`;
    hash.update(line);
    lines.push(line);
  }
  writeFileSync(path.join(options.outDir, files.events), lines.join(""));
  if (options.publicKeyFile !== null && existsSync(options.publicKeyFile))
    copyFileSync(options.publicKeyFile, path.join(options.outDir, files.publicKey));
  const unsignedSelected = selectedSeqs.filter(
    (seq) => signedThroughSeq === null || seq > signedThroughSeq,
  ).length;
  const manifest: ExportManifest = {
    format: "warden-export/v1",
    createdAt: (options.now ?? new Date()).toISOString(),
    selection,
    range: { fromSeq: checkpointBefore, toSeq },
    selectedEvents,
    contextEvents,
    signedThroughSeq,
    unsignedSelected,
    eventsSha256: hash.digest("hex"),
  };
  writeFileSync(path.join(options.outDir, files.manifest), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(path.join(options.outDir, files.summary), summary(manifest, counts, summaryRows));
  return manifest;
}

export interface ExportVerifyReport extends VerifyReport {
  manifest: ExportManifest;
  selectedEvents: number;
  unsignedSelected: number;
}

/** Checks an export: the manifest's digest, every hash, the chain, and the checkpoint signatures. */
export function verifyExport(directory: string, publicKey: KeyObject | null): ExportVerifyReport {
  const manifestFile = path.join(directory, files.manifest);
  const eventsFile = path.join(directory, files.events);
  if (!existsSync(manifestFile) || !existsSync(eventsFile))
    throw new WardenError(
      "usage",
      `${directory} is not a Warden export (no ${files.manifest} or ${files.events})`,
    );
  const manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as ExportManifest;
  if (manifest.format !== "warden-export/v1")
    throw new WardenError("usage", `${directory}: unknown export format ${String(manifest.format)}`);
  const text = readFileSync(eventsFile, "utf8");
  const rows: EventRow[] = [];
  const selected = new Set<number>();
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const entry = parseStrictJson(line) as ExportLine;
    const body = JSON.parse(entry.body) as StoredEvent;
    if (entry.selected) selected.add(entry.seq);
    rows.push({
      seq: entry.seq,
      id: body.id,
      time: body.time,
      type: body.type,
      agent_id: body.agentId,
      session_id: body.sessionId,
      trace_id: body.traceId,
      hash: entry.hash,
      body: entry.body,
    });
  }
  const report = verifyLog(rows, { publicKey, witness: null, segment: true });
  const problems = [...report.problems];
  const digest = createHash("sha256").update(text).digest("hex");
  if (digest !== manifest.eventsSha256)
    problems.unshift({
      seq: 0,
      kind: "edited",
      message: "events.jsonl does not match the manifest's digest",
    });
  if (rows[0] !== undefined && rows[0].seq !== manifest.range.fromSeq)
    problems.unshift({
      seq: rows[0].seq,
      kind: "missing",
      message: "the export does not start where its manifest says",
    });
  if (rows[0] !== undefined && rows[0].seq > 1 && rows[0].type !== "checkpoint")
    problems.unshift({
      seq: rows[0].seq,
      kind: "missing",
      message: "the export does not start at a checkpoint",
    });
  const signedThrough = signedHead(rows);
  const unsignedSelected = [...selected].filter((seq) => seq > signedThrough).length;
  return {
    ...report,
    ok: problems.length === 0,
    problems,
    manifest,
    selectedEvents: selected.size,
    unsignedSelected,
  };
}

/** The highest seq a checkpoint in the rows commits to. */
function signedHead(rows: EventRow[]): number {
  let highest = 0;
  for (const row of rows) {
    if (row.type !== "checkpoint") continue;
    const body = JSON.parse(row.body) as { data: { headSeq: number } };
    highest = Math.max(highest, Number(body.data.headSeq));
  }
  return highest;
}

function describe(event: StoredEvent): string {
  const data = event.data as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of ["server", "tool", "model", "outcome", "reviewer", "detector", "severity", "verdict"]) {
    if (typeof data[key] === "string" && data[key] !== "") parts.push(`${key}=${String(data[key])}`);
  }
  const applied = data.applied as { effect?: string; ruleId?: string | null } | undefined;
  if (applied?.effect) parts.push(`effect=${applied.effect}${applied.ruleId ? ` (${applied.ruleId})` : ""}`);
  // Agent-written text is not copied into the summary: it stays in events.jsonl.
  return parts.join(", ").replaceAll("|", "\\|");
}

function summary(manifest: ExportManifest, counts: Map<string, number>, rows: string[]): string {
  const selection = Object.entries(manifest.selection)
    .map(([key, value]) => `${key} ${String(value)}`)
    .join(", ");
  return [
    "# Warden record export",
    "",
    `Selection: ${selection}. Created ${manifest.createdAt}.`,
    "",
    `${manifest.selectedEvents} selected events, with ${manifest.contextEvents} other events of the same stretch of the log (seq ${manifest.range.fromSeq}..${manifest.range.toSeq}), which the hash chain needs to prove them.`,
    manifest.unsignedSelected === 0
      ? `Every selected event is covered by a signed checkpoint (through seq ${manifest.signedThroughSeq}).`
      : `${manifest.unsignedSelected} selected events come after the last signed checkpoint: they are in the chain but not yet signed.`,
    "",
    "Check it: `warden verify --export DIR --public-key KEY.pem` (use a copy of the public key kept apart from the data directory; public-key.pem in the export only checks consistency).",
    "",
    "## Events by type",
    "",
    ...[...counts.entries()].sort().map(([type, count]) => `- ${type}: ${count}`),
    "",
    "## Timeline",
    "",
    "| seq | time | agent | session | type | what |",
    "|---|---|---|---|---|---|",
    ...rows,
    "",
  ].join("\n");
}
