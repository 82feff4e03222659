import { existsSync } from "node:fs";
import path from "node:path";
import { dataFiles } from "../../core/data-dir.js";
import { WardenError } from "../../core/errors.js";
import {
  type ExportManifest,
  type ExportSelection,
  type ExportVerifyReport,
  exportRecord,
  verifyExport,
} from "../../store/export-record.js";
import { readPublicKey } from "../../store/signing-keys.js";
import { iterateRows, openReadOnly } from "../../store/sqlite/sqlite-event-store.js";
import { dataDirFrom } from "../common-options.js";
import { printJsonLine, printLine } from "../output.js";
import type { ExportOptions } from "./export.js";

function parseSince(since: string): string {
  const time = Date.parse(since);
  if (Number.isNaN(time)) throw new WardenError("usage", `--since must be an ISO 8601 time, not "${since}"`);
  return new Date(time).toISOString();
}

/** `warden export`: reads the store read-only, like `log` and `verify`. */
export async function runExport(options: ExportOptions): Promise<void> {
  const dataDir = dataDirFrom(options);
  const selection = {
    ...(options.session === undefined ? {} : { sessionId: options.session }),
    ...(options.agent === undefined ? {} : { agentId: options.agent }),
    ...(options.since === undefined ? {} : { since: parseSince(options.since) }),
  };
  const outDir = path.resolve(
    options.out ?? `warden-export-${new Date().toISOString().replaceAll(":", "-")}`,
  );
  const publicKeyFiles = options.publicKey ?? [path.join(dataDir, dataFiles.publicKey)];
  for (const file of options.publicKey ?? [])
    if (!existsSync(file)) throw new WardenError("usage", `--public-key ${file} does not exist`);
  const manifest =
    options.db === undefined
      ? exportFromDataDir(dataDir, options.chain, selection, outDir, publicKeyFiles)
      : await exportFromPostgres(options.db, options.chain, selection, outDir, publicKeyFiles);
  if (options.json) printJsonLine({ outDir, ...manifest });
  else {
    const where =
      manifest.format === "warden-export/v1"
        ? `seq ${manifest.range.fromSeq}..${manifest.range.toSeq}`
        : manifest.chains
            .map((chain) => `chain ${chain.chain} seq ${chain.range.fromSeq}..${chain.range.toSeq}`)
            .join(", ");
    printLine(
      `exported ${manifest.selectedEvents} events (+${manifest.contextEvents} context, ${where}) to ${outDir}`,
    );
    if (manifest.format === "warden-export/v2" && manifest.publicKeys.length === 0)
      printLine("note: no public key included; pass --public-key with each replica's key");
    if (manifest.unsignedSelected > 0)
      printLine(
        `note: ${manifest.unsignedSelected} of them come after the last signed checkpoint; export again after the next one to have them signed`,
      );
  }
}

function exportFromDataDir(
  dataDir: string,
  chain: string | undefined,
  selection: ExportSelection,
  outDir: string,
  publicKeyFiles: string[],
): ExportManifest {
  if (chain !== undefined) throw new WardenError("usage", "--chain needs --db: SQLite has one chain");
  const storeFile = path.join(dataDir, dataFiles.store);
  if (!existsSync(storeFile)) throw new WardenError("usage", `no Warden store in ${dataDir}`);
  const database = openReadOnly(storeFile);
  try {
    return exportRecord({
      chains: [{ chain: null, rows: () => iterateRows(database) }],
      selection,
      outDir,
      publicKeyFiles,
    });
  } finally {
    database.close();
  }
}

async function exportFromPostgres(
  url: string,
  chain: string | undefined,
  selection: ExportSelection,
  outDir: string,
  publicKeyFiles: string[],
): Promise<ExportManifest> {
  if (!/^postgres(ql)?:\/\//.test(url))
    throw new WardenError("usage", `--db must be a postgres:// URL, not "${url}"`);
  if (selection.sessionId === undefined && selection.agentId === undefined && selection.since === undefined)
    throw new WardenError("usage", "choose what to export: --session ID, --agent ID and/or --since TIME");
  const { readExportStretches } = await import("../../store/postgres/export-postgres.js");
  const chains = await readExportStretches(url, selection, chain);
  return exportRecord({ chains, selection, outDir, publicKeyFiles });
}

/** `warden verify --export DIR`: exit 0 intact, 1 not. */
export function verifyExportCommand(
  directory: string,
  publicKeyFiles: string[] | undefined,
  json: boolean,
): number {
  const keys = publicKeyFiles?.map((file) => readPublicKey(file)) ?? null;
  const report = verifyExport(path.resolve(directory), keys);
  if (json) printJsonLine(report);
  else if (report.ok) printIntactExport(report, publicKeyFiles);
  else {
    for (const problem of report.problems.slice(0, 10)) {
      const chain = "chain" in problem && typeof problem.chain === "string" ? `chain ${problem.chain}: ` : "";
      printLine(`${chain}FAILED at seq ${problem.seq}: ${problem.kind}: ${problem.message}`);
    }
  }
  return report.ok ? 0 : 1;
}

function printIntactExport(report: ExportVerifyReport, publicKeyFiles: string[] | undefined): void {
  const { manifest } = report;
  if (manifest.format === "warden-export/v1") {
    const keyFile =
      publicKeyFiles?.[0] ?? (report.chains[0]?.keyId ? "public-key.pem in the export" : "none");
    printLine(
      `intact: ${report.selectedEvents} selected events in seq ${manifest.range.fromSeq}..${manifest.range.toSeq}, ${report.checkpoints} signed checkpoints (key: ${keyFile})`,
    );
  } else {
    printLine(
      `intact: ${report.selectedEvents} selected events on ${report.chains.length} chains, ${report.checkpoints} signed checkpoints, ${report.crossChecked} heads recorded across chains checked`,
    );
    for (const chain of report.chains)
      printLine(
        `  chain ${chain.chain}: seq ${chain.startsAt}..${chain.head?.seq ?? chain.startsAt}, ${chain.checkpoints} checkpoints, ${chain.keyId === null ? "signatures NOT checked (no key for it)" : `signatures checked (key ${chain.keyId})`}`,
      );
  }
  if (publicKeyFiles === undefined)
    printLine(
      "note: checked with the key(s) inside the export; pass --public-key with copies kept elsewhere to rule out a re-signed forgery",
    );
  if (report.unsignedSelected > 0)
    printLine(`note: ${report.unsignedSelected} selected events are not yet covered by a signed checkpoint`);
}

/** `warden verify --db URL`: every chain of a PostgreSQL store; exit 0 intact, 1 not. */
export async function verifyChainsCommand(
  url: string,
  publicKeyFile: string | undefined,
  chain: string | undefined,
  json: boolean,
): Promise<number> {
  if ((publicKeyFile === undefined) !== (chain === undefined))
    throw new WardenError(
      "usage",
      "with --db, give --public-key and --chain together (each replica has its own key)",
    );
  const { verifyPostgresChains } = await import("../../store/postgres/verify-postgres.js");
  const keys =
    publicKeyFile !== undefined && chain !== undefined ? { [chain]: readPublicKey(publicKeyFile) } : {};
  const report = await verifyPostgresChains(url, keys);
  if (json) printJsonLine(report);
  else {
    for (const { chain: name, report: each } of report.chains) {
      if (each.ok)
        printLine(
          `chain ${name}: intact, ${each.events} events, ${each.checkpoints} checkpoints${keys[name] ? " (signatures checked)" : ""}`,
        );
      else {
        const first = each.problems[0]!;
        printLine(`chain ${name}: FAILED at seq ${first.seq}: ${first.kind}: ${first.message}`);
      }
    }
    for (const problem of report.crossChainProblems)
      printLine(`chain ${problem.chain}: FAILED at seq ${problem.seq}: ${problem.kind}: ${problem.message}`);
    if (report.chains.length === 0) printLine("no chains in this database");
  }
  return report.ok ? 0 : 1;
}
