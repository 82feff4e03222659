import type { EventData, StoredEvent } from "../../core/events.js";
import { toolKey } from "../call-facts.js";
import type { Detector, DetectorContext, FindingData } from "../detector.js";
import { compileToolManifests } from "./tool-manifests.js";

export interface UnexpectedToolOptions {
  /**
   * Per agent id or glob of ids, the tools it declared (`server/tool`, or a bare tool name for
   * any server; `*` globs), as `detection.manifests` in the config. Warden's own sandbox
   * change-set records are not tools the agent chose and are never outside a manifest.
   */
  manifests?: ReadonlyMap<string, readonly string[]>;
  /** Calls an agent must have made before a tool it never used counts as new (default 20). */
  minimumHistory?: number;
  /** Calls out of a tool before its transitions are judged (default 30). */
  minimumTransitions?: number;
  /** A transition less probable than this (add-one smoothed) is improbable (default 0.02). */
  improbable?: number;
}

interface AgentBaseline {
  calls: number;
  tools: Map<string, number>;
  /** previous tool → next tool → count, in each session's order. */
  transitions: Map<string, Transitions>;
}

interface Transitions {
  next: Map<string, number>;
  total: number;
}

/**
 * Tools outside an agent's declared manifest (`high`), tools never seen for this agent once it
 * has a history (`low`), and improbable transitions under a first-order Markov model of its
 * tool sequences (`low`). Evaluation traffic is judged against the production baseline but
 * never feeds it.
 */
export function createUnexpectedToolDetector(options: UnexpectedToolOptions = {}): Detector {
  const minimumHistory = options.minimumHistory ?? 20;
  const minimumTransitions = options.minimumTransitions ?? 30;
  const improbable = options.improbable ?? 0.02;
  const manifestOf = compileToolManifests(options.manifests ?? new Map());
  const baselines = new Map<string, AgentBaseline>();
  const lastTool = new Map<string, string>();
  // Consecutive calls are mostly of one session: its key is built once.
  let lastSession: { agentId: string; sessionId: string; key: string } | null = null;
  const sessionKeyOf = (event: StoredEvent): string => {
    if (
      lastSession === null ||
      lastSession.agentId !== event.agentId ||
      lastSession.sessionId !== event.sessionId
    )
      lastSession = {
        agentId: event.agentId,
        sessionId: event.sessionId,
        key: `${event.agentId}\n${event.sessionId}`,
      };
    return lastSession.key;
  };

  return {
    name: "unexpected-tool",
    stateful: true,
    eventTypes: ["tool-call"],
    inspect(event: StoredEvent, context: DetectorContext): FindingData[] {
      const data = event.data as EventData<"tool-call">;
      const tool = toolKey(data);
      const findings: FindingData[] = [];
      const inManifest = manifestOf(event.agentId);
      if (inManifest !== undefined && data.via !== "sandbox" && !inManifest(data.server, data.tool)) {
        findings.push({
          detector: "unexpected-tool",
          severity: "high",
          explanation: `${tool} is not in the tools agent ${event.agentId} declared`,
          kind: "outside-manifest",
          tool,
          evidence: [{ eventId: event.id }],
        });
      }
      let baseline = baselines.get(event.agentId);
      if (baseline === undefined) {
        baseline = { calls: 0, tools: new Map(), transitions: new Map() };
        if (!context.evaluation) baselines.set(event.agentId, baseline);
      }
      if (baseline.calls >= minimumHistory && !baseline.tools.has(tool)) {
        findings.push({
          detector: "unexpected-tool",
          severity: "low",
          explanation: `agent ${event.agentId} never used ${tool} in its ${baseline.calls} earlier calls`,
          kind: "never-seen",
          tool,
          evidence: [{ eventId: event.id }],
        });
      }
      const sessionKey = sessionKeyOf(event);
      const previous = lastTool.get(sessionKey);
      if (previous !== undefined) {
        const transitions = baseline.transitions.get(previous);
        const total = transitions === undefined ? 0 : transitions.total;
        if (transitions !== undefined && total >= minimumTransitions && baseline.tools.has(tool)) {
          const probability = ((transitions.next.get(tool) ?? 0) + 1) / (total + baseline.tools.size + 1);
          if (probability < improbable) {
            findings.push({
              detector: "unexpected-tool",
              severity: "low",
              explanation: `${previous} → ${tool} is improbable for agent ${event.agentId} (p ≈ ${probability.toFixed(4)} over ${total} transitions)`,
              kind: "improbable-transition",
              tool,
              probability,
              evidence: [{ eventId: event.id }],
            });
          }
        }
      }
      if (lastTool.size >= 10_000) lastTool.delete(lastTool.keys().next().value!);
      lastTool.set(sessionKey, tool);
      if (!context.evaluation) {
        baseline.calls++;
        baseline.tools.set(tool, (baseline.tools.get(tool) ?? 0) + 1);
        if (previous !== undefined) {
          let transitions = baseline.transitions.get(previous);
          if (transitions === undefined) {
            transitions = { next: new Map(), total: 0 };
            baseline.transitions.set(previous, transitions);
          }
          transitions.next.set(tool, (transitions.next.get(tool) ?? 0) + 1);
          transitions.total++;
        }
      }
      return findings;
    },
  };
}
