import type { StoredEvent } from "../core/events.js";
import type { Detector, FindingData } from "../detect/detector.js";
import { modelReplyText } from "../detect/model-reply-text.js";
import { checkClaim } from "./check-claims.js";
import { extractClaims } from "./extract-claims.js";
import { SessionEvidence } from "./session-evidence.js";

const severityOf = { contradicted: "high", unverified: "low", supported: "info" } as const;
const maximumSessions = 2000;

/**
 * Claim verification in the detection pipeline: keeps each session's evidence as its events
 * arrive and checks every claim in a model reply against the evidence recorded before it. One
 * finding per claim (`claims`): contradicted is `high`, unverified `low`, supported `info`.
 */
export function createClaimsDetector(): Detector {
  const sessions = new Map<string, SessionEvidence>();
  return {
    name: "claims",
    stateful: true,
    eventTypes: ["tool-call", "tool-result", "sandbox-run", "model-response"],
    inspect(event: StoredEvent): FindingData[] {
      const key = `${event.agentId}\n${event.sessionId}`;
      let evidence = sessions.get(key);
      if (evidence === undefined) {
        if (sessions.size >= maximumSessions) sessions.delete(sessions.keys().next().value!);
        evidence = new SessionEvidence();
        sessions.set(key, evidence);
      }
      if (event.type !== "model-response") {
        evidence.add(event);
        return [];
      }
      const status = (event.data as { status?: unknown }).status;
      if (typeof status !== "number" || status >= 300) return [];
      const findings: FindingData[] = [];
      for (const { field, text } of modelReplyText(event.data)) {
        for (const claim of extractClaims(text)) {
          const check = checkClaim(claim, evidence);
          const cited = [
            { eventId: event.id, span: claim.span, field },
            ...check.evidenceEventIds.map((eventId) => ({ eventId })),
          ];
          findings.push({
            detector: "claims",
            severity: severityOf[check.verdict],
            explanation: `claim "${claim.text.slice(0, 160)}" is ${check.verdict}: ${check.reason}`,
            claim: claim.kind,
            ...(claim.subject !== undefined ? { subject: claim.subject } : {}),
            verdict: check.verdict,
            evidence: cited,
          });
        }
      }
      return findings;
    },
  };
}
