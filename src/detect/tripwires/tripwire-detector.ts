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

interface Matcher {
  tools: Set<string>;
  /** Text to look for in an event's data → what a person is told was touched (never the secret). */
  needles: [needle: string, touched: string][];
}

/**
 * Touching a decoy is a `critical` finding: calling a decoy tool, or any call, tool result or
 * sandbox run whose recorded data names a decoy file or carries a decoy credential (found by
 * its keyed fingerprint, since the store keeps no secret in the clear, or as written when it
 * was not recognised as one). Explanations name the decoy, never its value.
 */
export function createTripwireDetector(options: TripwireDetectorOptions): Detector {
  let compiledFor: TripwireSet | null = null;
  let matcher: Matcher = { tools: new Set(), needles: [] };
  const current = (): Matcher => {
    const tripwires = options.tripwires();
    if (tripwires !== compiledFor) {
      compiledFor = tripwires;
      matcher = {
        tools: new Set(tripwires?.tools.map((tool) => tool.name) ?? []),
        needles: [
          ...(tripwires?.files ?? []).map(
            (file) => [jsonEscaped(file.path), `decoy file ${file.path}`] as [string, string],
          ),
          ...(tripwires?.credentials ?? []).flatMap((credential) => [
            [options.fingerprint(credential.value), `decoy credential ${credential.name}`] as [
              string,
              string,
            ],
            [jsonEscaped(credential.value), `decoy credential ${credential.name}`] as [string, string],
          ]),
        ],
      };
    }
    return matcher;
  };

  return {
    name: "tripwires",
    eventTypes: ["tool-call", "tool-result", "sandbox-run"],
    inspect(event: StoredEvent): FindingData[] {
      const { tools, needles } = current();
      const touched = new Set<string>();
      if (event.type === "tool-call" && tools.has((event.data as EventData<"tool-call">).tool)) {
        touched.add(`decoy tool ${(event.data as EventData<"tool-call">).tool}`);
      }
      if (needles.length > 0) {
        const text = JSON.stringify(event.data);
        for (const [needle, what] of needles) if (text.includes(needle)) touched.add(what);
      }
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

/** How a string appears inside JSON text. */
function jsonEscaped(value: string): string {
  return JSON.stringify(value).slice(1, -1);
}
