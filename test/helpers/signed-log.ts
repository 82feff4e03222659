import path from "node:path";
import { dataFiles } from "../../src/core/data-dir.js";
import type { EventInput } from "../../src/core/events.js";
import { silentLogger } from "../../src/core/logger.js";
import { ensureDataDir } from "../../src/server/daemon-files.js";
import { Checkpointer } from "../../src/store/checkpointer.js";
import { createSecretRedactor } from "../../src/store/redact-secrets.js";
import { loadOrCreateKeys } from "../../src/store/signing-keys.js";
import { SqliteEventStore } from "../../src/store/sqlite/sqlite-event-store.js";

export interface SignedLog {
  storeFile: string;
  head: number;
  /** The seq of each checkpoint event, and the seq each one commits to (the event before it). */
  checkpoints: { seq: number; headSeq: number }[];
}

/** A tool call or its result, alternating, from a few agents and sessions. */
export function sampleEvent(index: number): EventInput<"tool-call" | "tool-result"> {
  const identity = {
    agentId: `agent-${index % 3}`,
    sessionId: `session-${index % 2}`,
    traceId: index.toString(16).padStart(32, "0"),
    spanId: index.toString(16).padStart(16, "0"),
  };
  if (index % 2 === 0) {
    return {
      type: "tool-result",
      ...identity,
      data: {
        callId: `call-${index - 1}`,
        isError: false,
        latencyMs: index,
        result: { content: [{ type: "text", text: `contents ${index}` }] },
      },
    };
  }
  return {
    type: "tool-call",
    ...identity,
    data: {
      callId: `call-${index}`,
      via: "mcp",
      method: "tools/call",
      server: "files",
      tool: "read_file",
      arguments: { path: `/work/file-${index}.txt` },
    },
  };
}

/**
 * Writes a log the way the daemon does (keys in the data directory, secret fingerprints,
 * signed checkpoints sent to `witnessFile`): `segments[i]` events, then a checkpoint, except
 * after the last segment, which stays uncheckpointed.
 */
export async function writeSignedLog(options: {
  dataDir: string;
  witnessFile: string;
  segments: number[];
}): Promise<SignedLog> {
  ensureDataDir(options.dataDir);
  const keys = loadOrCreateKeys(options.dataDir);
  const storeFile = path.join(options.dataDir, dataFiles.store);
  const store = new SqliteEventStore({ file: storeFile, redact: createSecretRedactor(keys.fingerprintKey) });
  const checkpointer = new Checkpointer({
    store,
    keys,
    logger: silentLogger(),
    witness: options.witnessFile,
  });
  const checkpoints: SignedLog["checkpoints"] = [];
  let index = 0;
  for (const [position, count] of options.segments.entries()) {
    for (let event = 0; event < count; event++) await store.append(sampleEvent(++index));
    if (position < options.segments.length - 1) {
      await checkpointer.checkpoint();
      index++;
      if ((await store.head())?.seq !== index) throw new Error(`expected a checkpoint at seq ${index}`);
      checkpoints.push({ seq: index, headSeq: index - 1 });
    }
  }
  const head = (await store.head())?.seq ?? 0;
  await store.close();
  if (head !== index) throw new Error(`expected head ${index}, got ${head}`);
  return { storeFile, head, checkpoints };
}
