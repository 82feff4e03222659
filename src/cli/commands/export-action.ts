import { existsSync } from "node:fs";
import path from "node:path";
import { dataFiles } from "../../core/data-dir.js";
import { WardenError } from "../../core/errors.js";
import { exportRecord, verifyExport } from "../../store/export-record.js";
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
export function runExport(options: ExportOptions): void {
  const dataDir = dataDirFrom(options);
  const storeFile = path.join(dataDir, dataFiles.store);
  if (!existsSync(storeFile)) throw new WardenError("usage", `no Warden store in ${dataDir}`);
  const outDir = path.resolve(
    options.out ?? `warden-export-${new Date().toISOString().replaceAll(":", "-")}`,
  );
  const database = openReadOnly(storeFile);
  try {
    const manifest = exportRecord({
      rows: () => iterateRows(database),
      selection: {
        ...(options.session === undefined ? {} : { sessionId: options.session }),
        ...(options.agent === undefined ? {} : { agentId: options.agent }),
        ...(options.since === undefined ? {} : { since: parseSince(options.since) }),
      },
      outDir,
      publicKeyFile: path.join(dataDir, dataFiles.publicKey),
    });
    if (options.json) printJsonLine({ outDir, ...manifest });
    else {
      printLine(
        `exported ${manifest.selectedEvents} events (+${manifest.contextEvents} context, seq ${manifest.range.fromSeq}..${manifest.range.toSeq}) to ${outDir}`,
      );
      if (manifest.unsignedSelected > 0)
        printLine(
          `note: ${manifest.unsignedSelected} of them come after the last signed checkpoint; export again after the next one to have them signed`,
        );
    }
  } finally {
    database.close();
  }
}

/** `warden verify --export DIR`: exit 0 intact, 1 not. */
export function verifyExportCommand(
  directory: string,
  publicKeyFile: string | undefined,
  json: boolean,
): number {
  const keyFile = publicKeyFile ?? path.join(directory, "public-key.pem");
  const publicKey = existsSync(keyFile) ? readPublicKey(keyFile) : null;
  const report = verifyExport(path.resolve(directory), publicKey);
  if (json) printJsonLine(report);
  else if (report.ok) {
    printLine(
      `intact: ${report.selectedEvents} selected events in seq ${report.manifest.range.fromSeq}..${report.manifest.range.toSeq}, ${report.checkpoints} signed checkpoints (key: ${publicKey === null ? "none" : keyFile})`,
    );
    if (publicKeyFile === undefined)
      printLine(
        "note: checked with the key inside the export; pass --public-key with a copy kept elsewhere to rule out a re-signed forgery",
      );
    if (report.unsignedSelected > 0)
      printLine(
        `note: ${report.unsignedSelected} selected events are not yet covered by a signed checkpoint`,
      );
  } else {
    const first = report.problems[0]!;
    printLine(`FAILED at seq ${first.seq}: ${first.kind}: ${first.message}`);
  }
  return report.ok ? 0 : 1;
}
