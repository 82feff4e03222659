import { existsSync } from "node:fs";
import path from "node:path";
import { WardenError } from "../core/errors.js";
import type { EventStore } from "../core/event-store.js";
import { newSpanId } from "../core/ids.js";
import type { CallIdentity } from "../core/oversight.js";
import { bareFingerprint } from "../detect/tripwires/tripwire-detector.js";
import type { Tripwires } from "../policy/constitution-schema.js";
import { openSandboxSession, plantSandboxDecoys } from "../sandbox/index.js";
import { sha256 } from "../sandbox/path-state.js";

export interface PlantDecoysRequest {
  identity: CallIdentity;
  workspace: string;
  sandboxSessionId: string;
}

export interface SandboxDecoyOptions {
  store: EventStore;
  dataDir: string;
  /** The constitution's decoys now in force. */
  tripwires: () => Tripwires | null;
  /** The store's keyed fingerprint (`secret:` + hex) of a string. */
  fingerprint: (secret: string) => string;
  bubblewrap?: string;
}

/**
 * Plants the constitution's decoy files in a sandbox session's view of its workspace (once per
 * session) and records a `decoy-plant` event with their keyed fingerprints, durable before the
 * session's first command runs. The answer says nothing about the decoys: whoever asks (the
 * agent's own sandbox-mcp, too) learns nothing from it.
 */
export async function plantDecoysForSession(
  options: SandboxDecoyOptions,
  request: PlantDecoysRequest,
): Promise<Record<string, never>> {
  const tripwires = options.tripwires();
  if (!tripwires || tripwires.files.length === 0) return {};
  if (!existsSync(path.join(options.dataDir, "sandbox", request.sandboxSessionId, "layer.json")))
    throw new WardenError(
      "not-found",
      `no sandbox session ${request.sandboxSessionId} in this data directory`,
    );
  const session = openSandboxSession({
    workspace: request.workspace,
    dataDir: options.dataDir,
    sessionId: request.sandboxSessionId,
    ...(options.bubblewrap ? { bubblewrap: options.bubblewrap } : {}),
  });
  const planted = plantSandboxDecoys(session.layer, tripwires.files);
  if (planted.length === 0) return {};
  const keyed = (text: string) => bareFingerprint(options.fingerprint(text));
  await options.store.append({
    type: "decoy-plant",
    agentId: request.identity.agentId,
    sessionId: request.identity.sessionId,
    traceId: request.identity.traceId,
    spanId: newSpanId(),
    parentSpanId: request.identity.spanId,
    data: {
      sandboxSessionId: session.id,
      workspace: session.workspace,
      files: planted.map((file) => ({
        path: file.path,
        contentFingerprint: keyed(sha256(Buffer.from(file.content))),
      })),
      credentials: tripwires.credentials
        .filter((credential) => planted.some((file) => file.content.includes(credential.value)))
        .map((credential) => ({ name: credential.name, fingerprint: keyed(credential.value) })),
    },
  });
  return {};
}
