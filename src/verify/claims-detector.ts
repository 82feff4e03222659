import type { StoredEvent } from "../core/events.js";
import type { ClaimCheckData, ClaimCheckReport, Detector } from "../detect/detector.js";
import { modelReplyText } from "../detect/model-reply-text.js";
import { checkClaim } from "./check-claims.js";
import type { ClaimCheck } from "./claim.js";
import { extractClaims } from "./extract-claims.js";
import { SessionEvidence } from "./session-evidence.js";

const maximumSessions = 2000;

/**
 * Claim verification in the detection pipeline: keeps each session's evidence as its events
 * arrive and checks every claim in a model reply against the evidence recorded before it. Every
 * claim is a `claim-check` (supported, contradicted or unverifiable, with its evidence); a
 * contradicted one is also a `high` finding (`claims`) linked to it.
 */
export function createClaimsDetector(): Detector {
  const sessions = new Map<string, SessionEvidence>();
  // Events of one session mostly arrive together: the last session's evidence skips the lookup.
  let last: { agentId: string; sessionId: string; evidence: SessionEvidence } | undefined;
  const evidenceOf = (event: StoredEvent): SessionEvidence => {
    if (last !== undefined && last.agentId === event.agentId && last.sessionId === event.sessionId)
      return last.evidence;
    const key = `${event.agentId}\n${event.sessionId}`;
    let evidence = sessions.get(key);
    if (evidence === undefined) {
      if (sessions.size >= maximumSessions) sessions.delete(sessions.keys().next().value!);
      evidence = new SessionEvidence();
      sessions.set(key, evidence);
    }
    last = { agentId: event.agentId, sessionId: event.sessionId, evidence };
    return evidence;
  };
  return {
    name: "claims",
    stateful: true,
    eventTypes: ["tool-call", "tool-result", "sandbox-run", "model-response"],
    inspect(event: StoredEvent): ClaimCheckReport[] {
      const evidence = evidenceOf(event);
      if (event.type !== "model-response") {
        evidence.add(event);
        return [];
      }
      const status = (event.data as { status?: unknown }).status;
      if (typeof status !== "number" || status >= 300) return [];
      const reports: ClaimCheckReport[] = [];
      for (const { field, text } of modelReplyText(event.data)) {
        for (const claim of extractClaims(text)) {
          const check = checkClaim(claim, evidence);
          reports.push(claimReport(event, field, check));
        }
      }
      return reports;
    },
  };
}

function claimReport(event: StoredEvent, field: string, check: ClaimCheck): ClaimCheckReport {
  const { claim } = check;
  const subject = claim.subject !== undefined ? { subject: claim.subject } : {};
  const claimCheck: ClaimCheckData = {
    claim: claim.text,
    kind: claim.kind,
    ...subject,
    verdict: check.verdict,
    reason: check.reason,
    message: { eventId: event.id, spanId: event.spanId, span: claim.span, field },
    evidenceEventIds: check.evidenceEventIds,
    detector: "claims",
  };
  if (check.verdict !== "contradicted") return { claimCheck };
  return {
    claimCheck,
    finding: {
      detector: "claims",
      severity: "high",
      explanation: `claim "${claim.text.slice(0, 160)}" is contradicted: ${check.reason}`,
      claim: claim.kind,
      ...subject,
      verdict: check.verdict,
      evidence: [
        { eventId: event.id, span: claim.span, field },
        ...check.evidenceEventIds.map((eventId) => ({ eventId })),
      ],
    },
  };
}
