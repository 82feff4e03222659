import type { EventData, StoredEvent } from "../../core/events.js";
import { argumentWords, jaccard, toolKey } from "../call-facts.js";
import type { Detector, FindingData } from "../detector.js";

export interface ConstraintProbingOptions {
  /** Argument-word overlap (Jaccard) at which another call aims at the same effect (default 0.5). */
  similarity?: number;
  /** Denials remembered per session (default 20). */
  remembered?: number;
}

interface CallFacts {
  tool: string;
  words: Set<string>;
  eventId: string;
}

interface Denial extends CallFacts {
  ruleId: string;
  decisionEventId: string;
}

interface SessionState {
  calls: Map<string, CallFacts>;
  denials: Denial[];
}

const maximumSessions = 5000;
const maximumCallsPerSession = 200;

/**
 * After a denial, further attempts at the same effect: the same rule denying again, or a call
 * whose arguments overlap the denied one's (the same tool re-worded, or another tool aimed at
 * the same target). A repeated denial is `medium` (`high` from the third attempt); a re-worded
 * attempt that was allowed is `high`, since the agent got around the rule.
 */
export function createConstraintProbingDetector(options: ConstraintProbingOptions = {}): Detector {
  const similarity = options.similarity ?? 0.5;
  const remembered = options.remembered ?? 20;
  const sessions = new Map<string, SessionState>();
  // Consecutive events are mostly of one session; eviction only happens when another starts.
  let last: { agentId: string; sessionId: string; state: SessionState } | null = null;

  const sessionOf = (event: StoredEvent): SessionState => {
    if (last !== null && last.agentId === event.agentId && last.sessionId === event.sessionId)
      return last.state;
    const key = `${event.agentId}\n${event.sessionId}`;
    let state = sessions.get(key);
    if (state === undefined) {
      if (sessions.size >= maximumSessions) sessions.delete(sessions.keys().next().value!);
      state = { calls: new Map(), denials: [] };
      sessions.set(key, state);
    }
    last = { agentId: event.agentId, sessionId: event.sessionId, state };
    return state;
  };

  const related = (call: CallFacts, ruleId: string | null, denial: Denial): boolean =>
    (ruleId !== null && denial.ruleId === ruleId) ||
    (call.words.size > 0 && jaccard(call.words, denial.words) >= similarity);

  return {
    name: "constraint-probing",
    stateful: true,
    eventTypes: ["tool-call", "policy-decision"],
    inspect(event: StoredEvent): FindingData[] {
      const state = sessionOf(event);
      if (event.type === "tool-call") {
        const data = event.data as EventData<"tool-call">;
        if (state.calls.size >= maximumCallsPerSession) state.calls.delete(state.calls.keys().next().value!);
        state.calls.set(data.callId, {
          tool: toolKey(data),
          words: argumentWords(data.arguments),
          eventId: event.id,
        });
        return [];
      }
      const data = event.data as EventData<"policy-decision">;
      const call = state.calls.get(data.callId);
      if (call === undefined) return [];
      const applied = data.applied;
      if (applied.effect === "deny") {
        const earlier = state.denials.filter((denial) => related(call, applied.ruleId, denial));
        state.denials.push({
          tool: call.tool,
          words: call.words,
          eventId: call.eventId,
          ruleId: applied.ruleId,
          decisionEventId: event.id,
        });
        if (state.denials.length > remembered) state.denials.shift();
        if (earlier.length === 0) return [];
        const attempt = earlier.length + 1;
        return [
          {
            detector: "constraint-probing",
            severity: attempt >= 3 ? "high" : "medium",
            explanation: `attempt ${attempt} at an effect already denied in this session (${call.tool}, rule ${applied.ruleId}); earlier: ${[...new Set(earlier.map((denial) => denial.tool))].join(", ")}`,
            attempt,
            ruleId: applied.ruleId,
            evidence: [
              ...earlier.map((denial) => ({ eventId: denial.decisionEventId })),
              { eventId: call.eventId },
              { eventId: event.id },
            ],
          },
        ];
      }
      if (applied.effect !== "allow" || call.words.size < 2 || state.denials.length === 0) return [];
      const denial = lastAroundDenial(state.denials, call, similarity);
      if (denial === undefined) return [];
      return [
        {
          detector: "constraint-probing",
          severity: "high",
          explanation: `a re-worded attempt was allowed after rule ${denial.ruleId} denied ${denial.tool}: ${call.tool} with overlapping arguments`,
          ruleId: denial.ruleId,
          evidence: [{ eventId: denial.decisionEventId }, { eventId: call.eventId }, { eventId: event.id }],
        },
      ];
    },
  };
}

/** The latest denial an allowed call got around: overlapping arguments, another tool or other words. */
function lastAroundDenial(
  denials: readonly Denial[],
  call: CallFacts,
  similarity: number,
): Denial | undefined {
  for (let index = denials.length - 1; index >= 0; index--) {
    const denial = denials[index]!;
    const overlap = jaccard(call.words, denial.words);
    if (overlap >= similarity && (denial.tool !== call.tool || overlap < 1)) return denial;
  }
  return undefined;
}
