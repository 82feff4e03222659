import { createHash, type KeyObject } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { WardenError } from "../core/errors.js";
import type { StoredEvent } from "../core/events.js";
import { parseStrictJson } from "../core/strict-json.js";
import { keyIdOf, readPublicKey } from "./signing-keys.js";
import type { EventRow } from "./sqlite/sqlite-event-store.js";
import { type VerifyProblem, type VerifyReport, verifyLog } from "./verify-log.js";

export interface ExportSelection {
  sessionId?: string;
  agentId?: string;
  /** ISO time: events at or after it. */
  since?: string;
}

/** One chain's stretch in an export. */
export interface ChainExport {
  /** The stretch written out: from a checkpoint (or the chain's start) to the checkpoint after the last selected event. */
  range: { fromSeq: number; toSeq: number };
  selectedEvents: number;
  contextEvents: number;
  /** The highest seq a signed checkpoint in the stretch commits to. */
  signedThroughSeq: number | null;
  /** Selected events after the last checkpoint: in the chain, but not yet signed. */
  unsignedSelected: number;
}

/** A SQLite log's export: one chain. */
export interface ExportManifestV1 extends ChainExport {
  format: "warden-export/v1";
  createdAt: string;
  selection: ExportSelection;
  eventsSha256: string;
}

/**
 * A PostgreSQL store's export: the stretch of every replica chain holding selected events, each
 * line naming its chain, and the replicas' public keys under public-keys/ (by key id).
 */
export interface ExportManifestV2 {
  format: "warden-export/v2";
  createdAt: string;
  selection: ExportSelection;
  selectedEvents: number;
  contextEvents: number;
  unsignedSelected: number;
  chains: ({ chain: string } & ChainExport)[];
  publicKeys: string[];
  eventsSha256: string;
}

export type ExportManifest = ExportManifestV1 | ExportManifestV2;

interface ExportLine {
  /** v2 only. */
  chain?: string;
  seq: number;
  hash: string;
  /** The canonical text that was hashed, byte for byte. */
  body: string;
  selected: boolean;
}

/** One chain's rows in seq order (read twice); `chain` is null for SQLite's single chain. */
export interface ChainRows {
  chain: string | null;
  rows: () => Iterable<EventRow>;
}

const files = {
  events: "events.jsonl",
  manifest: "manifest.json",
  publicKey: "public-key.pem",
  publicKeys: "public-keys",
  summary: "summary.md",
};

function matches(event: StoredEvent, selection: ExportSelection): boolean {
  if (selection.sessionId !== undefined && event.sessionId !== selection.sessionId) return false;
  if (selection.agentId !== undefined && event.agentId !== selection.agentId) return false;
  if (selection.since !== undefined && event.time < selection.since) return false;
  return true;
}

/** Where a chain's selected events are: the checkpoint before the first and the one after the last. */
function planStretch(rows: Iterable<EventRow>, selection: ExportSelection): ChainExport["range"] | null {
  let firstSelected: number | null = null;
  let lastSelected: number | null = null;
  const checkpoints: { seq: number; headSeq: number }[] = [];
  let head = 0;
  let firstRow: number | null = null;
  for (const row of rows) {
    head = row.seq;
    firstRow ??= row.seq;
    const event = JSON.parse(row.body) as StoredEvent;
    if (event.type === "checkpoint")
      checkpoints.push({ seq: row.seq, headSeq: Number((event.data as { headSeq: number }).headSeq) });
    else if (matches(event, selection)) {
      firstSelected ??= row.seq;
      lastSelected = row.seq;
    }
  }
  if (firstSelected === null || lastSelected === null) return null;
  const first = firstSelected;
  const last = lastSelected;
  // A stretch may start only at a checkpoint signing the event just before it (one taken while
  // other appends raced it signs an earlier head), and ends at the first that signs the last
  // selected event.
  const before = checkpoints.filter(({ seq, headSeq }) => seq < first && headSeq === seq - 1).at(-1);
  return {
    fromSeq: before?.seq ?? firstRow ?? 1,
    toSeq: checkpoints.find(({ seq, headSeq }) => seq > last && headSeq >= last)?.seq ?? head,
  };
}

interface WrittenStretch extends ChainExport {
  lines: string[];
  summaryRows: string[];
}

function writeStretch(
  source: ChainRows,
  range: ChainExport["range"],
  selection: ExportSelection,
  counts: Map<string, number>,
): WrittenStretch {
  const lines: string[] = [];
  const summaryRows: string[] = [];
  let selectedEvents = 0;
  let contextEvents = 0;
  let signedThroughSeq: number | null = null;
  const selectedSeqs: number[] = [];
  const where = source.chain === null ? "" : `${source.chain} `;
  for (const row of source.rows()) {
    if (row.seq < range.fromSeq || row.seq > range.toSeq) continue;
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
        `| ${where}${row.seq} | ${event.time} | ${event.agentId} | ${event.sessionId} | ${event.type} | ${describe(event)} |`,
      );
    } else contextEvents++;
    const line: ExportLine = {
      ...(source.chain === null ? {} : { chain: source.chain }),
      seq: row.seq,
      hash: row.hash,
      body: row.body,
      selected,
    };
    lines.push(`${JSON.stringify(line)}\n`);
  }
  const signedThrough = signedThroughSeq;
  return {
    range,
    selectedEvents,
    contextEvents,
    signedThroughSeq,
    unsignedSelected: selectedSeqs.filter((seq) => signedThrough === null || seq > signedThrough).length,
    lines,
    summaryRows,
  };
}

/**
 * Writes a self-verifying record of the selected events: for each chain holding some, the stretch
 * of the hash chain that holds them, from the checkpoint before the first to the checkpoint after
 * the last (a hash chain proves an event only together with every event between it and a signed
 * checkpoint, so the events in between are included, marked as context), the public key(s), a
 * manifest and a summary for people. `verifyExport` checks it with nothing but the directory (and,
 * better, public keys obtained separately). One chain without a name (SQLite) is format v1; named
 * replica chains (PostgreSQL) are v2.
 */
export function exportRecord(options: {
  chains: ChainRows[];
  selection: ExportSelection;
  outDir: string;
  publicKeyFiles: string[];
  now?: Date;
}): ExportManifest {
  const { selection } = options;
  if (selection.sessionId === undefined && selection.agentId === undefined && selection.since === undefined)
    throw new WardenError("usage", "choose what to export: --session ID, --agent ID and/or --since TIME");
  if (existsSync(options.outDir) && readdirSync(options.outDir).length > 0)
    throw new WardenError("usage", `${options.outDir} is not empty; choose a new directory for the export`);
  const single = options.chains.length === 1 && options.chains[0]!.chain === null;

  const planned = options.chains.flatMap((source) => {
    const range = planStretch(source.rows(), selection);
    return range === null ? [] : [{ source, range }];
  });
  if (planned.length === 0)
    throw new WardenError("usage", "no events match the selection; nothing was exported");

  mkdirSync(options.outDir, { recursive: true });
  const counts = new Map<string, number>();
  const stretches = planned.map(({ source, range }) => ({
    chain: source.chain,
    ...writeStretch(source, range, selection, counts),
  }));
  const text = stretches.flatMap((stretch) => stretch.lines).join("");
  writeFileSync(path.join(options.outDir, files.events), text);
  const eventsSha256 = createHash("sha256").update(text).digest("hex");
  const createdAt = (options.now ?? new Date()).toISOString();
  const summaryRows = stretches.flatMap((stretch) => stretch.summaryRows);
  const publicKeys = options.publicKeyFiles.filter((file) => existsSync(file));
  let manifest: ExportManifest;
  if (single) {
    const { chain: _none, lines: _lines, summaryRows: _rows, ...stretch } = stretches[0]!;
    if (publicKeys[0] !== undefined) copyFileSync(publicKeys[0], path.join(options.outDir, files.publicKey));
    manifest = { format: "warden-export/v1", createdAt, selection, ...stretch, eventsSha256 };
  } else {
    const keyIds = copyPublicKeys(publicKeys, path.join(options.outDir, files.publicKeys));
    manifest = {
      format: "warden-export/v2",
      createdAt,
      selection,
      selectedEvents: sum(stretches, "selectedEvents"),
      contextEvents: sum(stretches, "contextEvents"),
      unsignedSelected: sum(stretches, "unsignedSelected"),
      chains: stretches.map(({ chain, lines: _lines, summaryRows: _rows, ...stretch }) => ({
        chain: chain ?? "main",
        ...stretch,
      })),
      publicKeys: keyIds,
      eventsSha256,
    };
  }
  writeFileSync(path.join(options.outDir, files.manifest), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(path.join(options.outDir, files.summary), summary(manifest, counts, summaryRows));
  return manifest;
}

function sum<K extends "selectedEvents" | "contextEvents" | "unsignedSelected">(
  stretches: ChainExport[],
  key: K,
): number {
  return stretches.reduce((total, stretch) => total + stretch[key], 0);
}

/** Copies each key as public-keys/KEYID.pem; returns the key ids. */
function copyPublicKeys(files: string[], directory: string): string[] {
  mkdirSync(directory, { recursive: true });
  const keyIds: string[] = [];
  for (const file of files) {
    const keyId = keyIdOf(readPublicKey(file));
    if (keyIds.includes(keyId)) continue;
    copyFileSync(file, path.join(directory, `${keyId}.pem`));
    keyIds.push(keyId);
  }
  return keyIds;
}

export interface ChainVerifyReport extends VerifyReport {
  /** null for a v1 export's single chain. */
  chain: string | null;
  /** The key the chain's checkpoints were checked with (its key id), or null. */
  keyId: string | null;
}

export interface ExportVerifyReport extends VerifyReport {
  manifest: ExportManifest;
  selectedEvents: number;
  unsignedSelected: number;
  /** Each chain of the export on its own (one for v1). */
  chains: ChainVerifyReport[];
  /** Heads one chain's checkpoints recorded for another chain, compared with that chain's exported events. */
  crossChecked: number;
}

interface ParsedLine {
  chain: string | null;
  row: EventRow;
  selected: boolean;
}

/**
 * Checks an export: the manifest's digest, every hash, each chain's links and checkpoint
 * signatures, and, for v2, every head a chain's checkpoint recorded for another exported chain
 * whose stretch holds that seq. `publicKeys` are matched to chains by the key id their
 * checkpoints name; a checkpoint naming a key not given fails.
 */
export function verifyExport(directory: string, publicKeys: KeyObject[] | null): ExportVerifyReport {
  const manifestFile = path.join(directory, files.manifest);
  const eventsFile = path.join(directory, files.events);
  if (!existsSync(manifestFile) || !existsSync(eventsFile))
    throw new WardenError(
      "usage",
      `${directory} is not a Warden export (no ${files.manifest} or ${files.events})`,
    );
  const manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as ExportManifest;
  if (manifest.format !== "warden-export/v1" && manifest.format !== "warden-export/v2")
    throw new WardenError(
      "usage",
      `${directory}: unknown export format ${String((manifest as { format: unknown }).format)}`,
    );
  const text = readFileSync(eventsFile, "utf8");
  const problems: (VerifyProblem & { chain?: string })[] = [];
  const parsed = parseLines(text, manifest.format === "warden-export/v2", problems);
  const keys = {
    list: publicKeys ?? exportedKeys(directory, manifest),
    given: publicKeys !== null,
    single: manifest.format === "warden-export/v1",
  };
  const byChain = new Map<string | null, ParsedLine[]>();
  for (const line of parsed) {
    const lines = byChain.get(line.chain) ?? [];
    lines.push(line);
    byChain.set(line.chain, lines);
  }
  const expected: Map<string | null, ChainExport> =
    manifest.format === "warden-export/v1"
      ? new Map([[null, manifest]])
      : new Map(manifest.chains.map((entry) => [entry.chain, entry]));
  const chains: ChainVerifyReport[] = [];
  for (const [chain, lines] of byChain) {
    const rows = lines.map((line) => line.row);
    const key = keyFor(rows, keys);
    const report = verifyLog(rows, { publicKey: key.key, witness: null, segment: true });
    const chainProblems = [...report.problems, ...key.problems];
    const stated = expected.get(chain);
    const first = rows[0]!;
    if (stated === undefined)
      chainProblems.push({
        seq: first.seq,
        kind: "edited",
        message: "the manifest does not list this chain",
      });
    else if (first.seq !== stated.range.fromSeq)
      chainProblems.push({
        seq: first.seq,
        kind: "missing",
        message: "the export does not start where its manifest says",
      });
    if (first.seq > 1 && first.type !== "checkpoint")
      chainProblems.push({
        seq: first.seq,
        kind: "missing",
        message: "the export does not start at a checkpoint",
      });
    chainProblems.sort((left, right) => left.seq - right.seq);
    chains.push({
      ...report,
      ok: chainProblems.length === 0,
      problems: chainProblems,
      chain,
      keyId: key.keyId,
    });
  }
  for (const chain of expected.keys())
    if (!byChain.has(chain))
      problems.push({
        seq: 0,
        kind: "missing",
        message: `the manifest lists chain ${chain ?? "(the log)"}, but events.jsonl has none of its events`,
      });
  const cross = crossCheck(byChain);
  problems.push(...cross.problems);
  const digest = createHash("sha256").update(text).digest("hex");
  if (digest !== manifest.eventsSha256)
    problems.unshift({
      seq: 0,
      kind: "edited",
      message: "events.jsonl does not match the manifest's digest",
    });
  for (const chain of chains)
    for (const problem of chain.problems)
      problems.push(chain.chain === null ? problem : { ...problem, chain: chain.chain });
  const selected = parsed.filter((line) => line.selected);
  const signedThrough = new Map(
    chains.map((chain) => [chain.chain, signedHead(byChain.get(chain.chain) ?? [])]),
  );
  const unsignedSelected = selected.filter(
    (line) => line.row.seq > (signedThrough.get(line.chain) ?? 0),
  ).length;
  return {
    ok: problems.length === 0,
    startsAt: chains[0]?.startsAt ?? 1,
    events: parsed.length,
    head: chains.length === 1 ? (chains[0]?.head ?? null) : null,
    checkpoints: chains.reduce((total, chain) => total + chain.checkpoints, 0),
    lastCheckpointSeq: chains.length === 1 ? (chains[0]?.lastCheckpointSeq ?? null) : null,
    witnessed: null,
    problems,
    manifest,
    selectedEvents: selected.length,
    unsignedSelected,
    chains,
    crossChecked: cross.checked,
  };
}

function parseLines(text: string, named: boolean, problems: VerifyProblem[]): ParsedLine[] {
  const parsed: ParsedLine[] = [];
  let lineNumber = 0;
  for (const line of text.split("\n")) {
    lineNumber++;
    if (line.trim() === "") continue;
    let entry: ExportLine;
    let body: StoredEvent;
    try {
      entry = parseStrictJson(line) as ExportLine;
      body = JSON.parse(entry.body) as StoredEvent;
    } catch (error) {
      problems.push({
        seq: 0,
        kind: "corrupt",
        message: `events.jsonl line ${lineNumber} is not an export line: ${(error as Error).message}`,
      });
      continue;
    }
    if (named && typeof entry.chain !== "string") {
      problems.push({
        seq: entry.seq,
        kind: "corrupt",
        message: `events.jsonl line ${lineNumber} names no chain`,
      });
      continue;
    }
    parsed.push({
      chain: named ? (entry.chain as string) : null,
      selected: entry.selected === true,
      row: {
        seq: entry.seq,
        id: body.id,
        time: body.time,
        type: body.type,
        agent_id: body.agentId,
        session_id: body.sessionId,
        trace_id: body.traceId,
        hash: entry.hash,
        body: entry.body,
      },
    });
  }
  return parsed;
}

/** The keys shipped inside the export (consistency only: whoever edited it could replace them). */
function exportedKeys(directory: string, manifest: ExportManifest): KeyObject[] {
  if (manifest.format === "warden-export/v1") {
    const file = path.join(directory, files.publicKey);
    return existsSync(file) ? [readPublicKey(file)] : [];
  }
  const folder = path.join(directory, files.publicKeys);
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .filter((name) => name.endsWith(".pem"))
    .map((name) => readPublicKey(path.join(folder, name)));
}

/**
 * The key a chain's checkpoints name. Without keys, signatures are not checked. A v1 export's
 * single key is used whatever the checkpoints name (a wrong key then fails each signature).
 * Keys given by the person verifying must cover every chain (a chain whose key is missing
 * fails); keys shipped inside the export check the chains they match and leave the rest unchecked.
 */
function keyFor(
  rows: EventRow[],
  keys: { list: KeyObject[]; given: boolean; single: boolean },
): { key: KeyObject | null; keyId: string | null; problems: VerifyProblem[] } {
  const first = checkpointKeyIds(rows)[0];
  if (keys.list.length === 0 || first === undefined) return { key: null, keyId: null, problems: [] };
  const byId = new Map(keys.list.map((key) => [keyIdOf(key), key]));
  const key = byId.get(first.keyId) ?? (keys.single && keys.list.length === 1 ? keys.list[0]! : null);
  if (key !== null) return { key, keyId: keyIdOf(key), problems: [] };
  if (!keys.given) return { key: null, keyId: null, problems: [] };
  return {
    key: null,
    keyId: null,
    problems: [
      {
        seq: first.seq,
        kind: "bad-signature",
        message: `checkpoints are signed by key ${first.keyId}, which is not among the public keys given`,
      },
    ],
  };
}

function checkpointKeyIds(rows: EventRow[]): { seq: number; keyId: string }[] {
  const found: { seq: number; keyId: string }[] = [];
  for (const row of rows) {
    if (row.type !== "checkpoint") continue;
    try {
      const body = JSON.parse(row.body) as { data: { keyId?: unknown } };
      found.push({ seq: row.seq, keyId: String(body.data.keyId) });
    } catch {
      // verifyLog reports the corrupt body.
    }
  }
  return found;
}

/**
 * Each head a checkpoint recorded for another chain, where that chain's exported stretch holds
 * the seq: the stored hash must be the recorded one, so a chain rewritten consistently (whose own
 * hashes cannot show it without its key) is caught by the chains that vouched for it.
 */
function crossCheck(byChain: Map<string | null, ParsedLine[]>): {
  checked: number;
  problems: (VerifyProblem & { chain: string })[];
} {
  const hashes = new Map<string, Map<number, string>>();
  for (const [chain, lines] of byChain)
    if (chain !== null) hashes.set(chain, new Map(lines.map((line) => [line.row.seq, line.row.hash])));
  let checked = 0;
  const problems: (VerifyProblem & { chain: string })[] = [];
  for (const [chain, lines] of byChain) {
    if (chain === null) continue;
    for (const { row } of lines) {
      if (row.type !== "checkpoint") continue;
      let recorded: { chain: string; seq: number; hash: string }[] = [];
      try {
        recorded = (JSON.parse(row.body) as { data: { chainHeads?: typeof recorded } }).data.chainHeads ?? [];
      } catch {
        continue;
      }
      for (const other of recorded) {
        const stored = hashes.get(other.chain)?.get(other.seq);
        if (stored === undefined) continue;
        checked++;
        if (stored !== other.hash)
          problems.push({
            chain: other.chain,
            seq: other.seq,
            kind: "edited",
            message: `chain ${other.chain} at seq ${other.seq} is not what chain ${chain} recorded at its seq ${row.seq} (rewritten)`,
          });
      }
    }
  }
  return { checked, problems };
}

/** The highest seq a checkpoint in the lines commits to. */
function signedHead(lines: ParsedLine[]): number {
  let highest = 0;
  for (const { row } of lines) {
    if (row.type !== "checkpoint") continue;
    try {
      const body = JSON.parse(row.body) as { data: { headSeq: number } };
      highest = Math.max(highest, Number(body.data.headSeq));
    } catch {
      // verifyLog reports the corrupt body.
    }
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
  const coverage =
    manifest.format === "warden-export/v1"
      ? [
          `${manifest.selectedEvents} selected events, with ${manifest.contextEvents} other events of the same stretch of the log (seq ${manifest.range.fromSeq}..${manifest.range.toSeq}), which the hash chain needs to prove them.`,
          manifest.unsignedSelected === 0
            ? `Every selected event is covered by a signed checkpoint (through seq ${manifest.signedThroughSeq}).`
            : `${manifest.unsignedSelected} selected events come after the last signed checkpoint: they are in the chain but not yet signed.`,
          "",
          "Check it: `warden verify --export DIR --public-key KEY.pem` (use a copy of the public key kept apart from the data directory; public-key.pem in the export only checks consistency).",
        ]
      : [
          `${manifest.selectedEvents} selected events from ${manifest.chains.length} replica chains, with ${manifest.contextEvents} other events of the same stretches, which the hash chains need to prove them:`,
          "",
          ...manifest.chains.map(
            (chain) =>
              `- chain ${chain.chain}: seq ${chain.range.fromSeq}..${chain.range.toSeq}, ${chain.selectedEvents} selected, ${chain.unsignedSelected === 0 ? `all covered by a signed checkpoint (through seq ${chain.signedThroughSeq})` : `${chain.unsignedSelected} after the last signed checkpoint (in the chain, not yet signed)`}`,
          ),
          "",
          "Check it: `warden verify --export DIR --public-key R1.pem --public-key R2.pem ...` with each replica's public key, kept apart from the replicas (the keys under public-keys/ in the export only check consistency).",
        ];
  return [
    "# Warden record export",
    "",
    `Selection: ${selection}. Created ${manifest.createdAt}.`,
    "",
    ...coverage,
    "",
    "## Events by type",
    "",
    ...[...counts.entries()].sort().map(([type, count]) => `- ${type}: ${count}`),
    "",
    "## Timeline",
    "",
    `| ${manifest.format === "warden-export/v1" ? "seq" : "chain seq"} | time | agent | session | type | what |`,
    "|---|---|---|---|---|---|",
    ...rows,
    "",
  ].join("\n");
}
