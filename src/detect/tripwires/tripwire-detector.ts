import type { EventData, StoredEvent } from "../../core/events.js";
import type { Detector, FindingData } from "../detector.js";

/** The decoys, as the constitution's `tripwires` section lists them. */
export interface TripwireSet {
  tools: readonly { name: string }[];
  files: readonly { path: string }[];
  credentials: readonly { name: string; value: string }[];
}

export interface TripwireDetectorOptions {
  /** The decoys now in force (read on every event; the constitution may be reloaded). */
  tripwires: () => TripwireSet | null;
  /** The store's keyed fingerprint of a secret (`secret:` + hex), as the record holds it. */
  fingerprint: (secret: string) => string;
}

/** What a person is told was touched (never the secret). */
type Touched = string;

interface Matcher {
  tools: Set<string>;
  /** Decoy file paths: a call or command naming one touches it (a listing that shows one does not). */
  paths: [needle: string, touched: Touched][];
  /** Decoy secrets, as fingerprints or as written: any record carrying one touches it. */
  secrets: [needle: string, touched: Touched][];
}

/** Event types whose data is what the agent asked for (arguments, command lines). */
const requestTypes = new Set(["tool-call", "sandbox-run"]);

/**
 * Touching a decoy is a `critical` finding: calling a decoy tool; a call or sandbox command that
 * names a decoy file; any call, tool result, sandbox run, change set or model request that
 * carries a decoy credential (found by its keyed fingerprint, since the store keeps no secret in
 * the clear, or as written when it was not recognised as one); a change set holding a copy of a
 * planted decoy file (its SHA-256 under the same keyed fingerprint). Decoys come from the
 * constitution in force and from the `decoy-plant` records of sandbox sessions, so decoys
 * planted under an earlier constitution still count. A model request repeats the conversation
 * (and with it what a tool result already showed): it reports only a decoy the session has not
 * touched yet. Explanations name the decoy, never its value.
 */
export function createTripwireDetector(options: TripwireDetectorOptions): Detector {
  let compiledFor: TripwireSet | null = null;
  let fromConstitution: Matcher = { tools: new Set(), paths: [], secrets: [] };
  const planted: Matcher = { tools: new Set(), paths: [], secrets: [] };
  const plantedContent = new Map<string, Touched>();
  const reportedInSession = new Set<string>();
  const keyed = (text: string) => bareFingerprint(options.fingerprint(text));

  const current = (): Matcher => {
    const tripwires = options.tripwires();
    if (tripwires !== compiledFor) {
      compiledFor = tripwires;
      fromConstitution = {
        tools: new Set(tripwires?.tools.map((tool) => tool.name) ?? []),
        paths: (tripwires?.files ?? []).map((file) => [jsonEscaped(file.path), `decoy file ${file.path}`]),
        secrets: (tripwires?.credentials ?? []).flatMap((credential): [string, Touched][] => [
          [options.fingerprint(credential.value), `decoy credential ${credential.name}`],
          [jsonEscaped(credential.value), `decoy credential ${credential.name}`],
        ]),
      };
    }
    return fromConstitution;
  };

  const learn = (data: EventData<"decoy-plant">) => {
    for (const file of data.files) {
      const touched = `decoy file ${file.path}`;
      if (!planted.paths.some(([needle]) => needle === jsonEscaped(file.path)))
        planted.paths.push([jsonEscaped(file.path), touched]);
      plantedContent.set(file.contentFingerprint, touched);
    }
    for (const credential of data.credentials) {
      const needle = `secret:${credential.fingerprint}`;
      if (!planted.secrets.some(([known]) => known === needle))
        planted.secrets.push([needle, `decoy credential ${credential.name}`]);
    }
  };

  return {
    name: "tripwires",
    stateful: true,
    eventTypes: ["decoy-plant", "tool-call", "tool-result", "sandbox-run", "change-set", "model-request"],
    inspect(event: StoredEvent): FindingData[] {
      if (event.type === "decoy-plant") {
        learn(event.data as EventData<"decoy-plant">);
        return [];
      }
      const matchers = [current(), planted];
      const touched = new Set<Touched>();
      if (event.type === "tool-call") {
        const tool = (event.data as EventData<"tool-call">).tool;
        if (matchers.some((matcher) => matcher.tools.has(tool))) touched.add(`decoy tool ${tool}`);
      }
      const asked = requestTypes.has(event.type) && matchers.some((matcher) => matcher.paths.length > 0);
      const carried = matchers.some((matcher) => matcher.secrets.length > 0);
      // Serialising every event is the detector's main cost: only when there is something to find.
      if (asked || carried) {
        const fullText = JSON.stringify(event.data);
        const text =
          event.type === "sandbox-run"
            ? JSON.stringify((event.data as EventData<"sandbox-run">).command)
            : fullText;
        for (const matcher of matchers) {
          if (asked) for (const [needle, what] of matcher.paths) if (text.includes(needle)) touched.add(what);
          for (const [needle, what] of matcher.secrets) if (fullText.includes(needle)) touched.add(what);
        }
      }
      if (event.type === "change-set" && plantedContent.size > 0)
        for (const change of (event.data as EventData<"change-set">).changes) {
          const after = change.after as { type?: string; sha256?: string };
          if (after.type !== "file" || typeof after.sha256 !== "string") continue;
          const copied = plantedContent.get(keyed(after.sha256));
          if (copied !== undefined) touched.add(`${copied} (copied to ${change.path})`);
        }
      for (const what of [...touched]) {
        const key = `${event.sessionId}\n${what}`;
        if (event.type === "model-request" && reportedInSession.has(key)) touched.delete(what);
        else reportedInSession.add(key);
      }
      if (reportedInSession.size > 100_000) reportedInSession.clear();
      if (touched.size === 0) return [];
      return [
        {
          detector: "tripwires",
          severity: "critical",
          explanation: `agent ${event.agentId} touched ${[...touched].join(", ")} (${event.type}); no honest task needs it`,
          touched: [...touched],
          evidence: [{ eventId: event.id }],
        },
      ];
    },
  };
}

/**
 * A keyed fingerprint without its `secret:` prefix, as `decoy-plant` records hold it: stored with
 * the prefix, the store's redactor would read `secret:<hex>` as an assignment and fingerprint the
 * hex again.
 */
export function bareFingerprint(fingerprint: string): string {
  return fingerprint.replace(/^secret:/, "");
}

/** How a string appears inside JSON text. */
function jsonEscaped(value: string): string {
  return JSON.stringify(value).slice(1, -1);
}
