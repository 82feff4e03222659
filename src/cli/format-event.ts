import type { StoredEvent } from "../core/events.js";

function short(value: unknown, max = 100): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  if (text === undefined) return "";
  const oneLine = text.replace(/\s+/g, " ");
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

/** One line summarising what an event says, for people. Agent text is shown as plain text. */
export function describeEvent(event: StoredEvent): string {
  const data = event.data as Record<string, unknown>;
  switch (event.type) {
    case "model-request": {
      const body = data.body as { messages?: unknown[]; input?: unknown[] } | null;
      const turns = body?.messages?.length ?? (Array.isArray(body?.input) ? body.input.length : undefined);
      return `${data.provider} ${data.model} ${data.path}${turns === undefined ? "" : ` (${turns} messages)`}`;
    }
    case "model-response": {
      const calls = (data.toolCalls as { name: string; verdict: string }[] | undefined) ?? [];
      const proposed =
        calls.length > 0
          ? ` · proposed ${calls.map((call) => `${call.name} (${call.verdict})`).join(", ")}`
          : "";
      return `${data.status}${data.streamed ? " streamed" : ""} in ${Number(data.latencyMs).toFixed(1)} ms${proposed}`;
    }
    case "tool-call":
      return `${data.server}/${data.tool} ${short(data.arguments)} [${data.method}]`;
    case "policy-decision": {
      const applied = data.applied as { effect: string; ruleId?: string | null; reason?: string };
      const decision = data.decision as { effect: string };
      const shadow =
        data.mode === "shadow" && decision.effect !== applied.effect
          ? ` (shadow: would ${decision.effect})`
          : "";
      return `${applied.effect.toUpperCase()} by ${applied.ruleId ?? "default"}${applied.reason ? `: ${short(applied.reason, 80)}` : ""}${shadow}`;
    }
    case "approval-request":
      return `held for ${(data.approvers as { roles: string[] }).roles.join("|")} until ${data.expiresAt} (approval ${data.approvalId})`;
    case "approval-decision":
      return `${data.outcome} by ${data.reviewer}${data.reason ? `: ${short(data.reason, 80)}` : ""}${data.outcome === "approved" ? ` (${data.scope})` : ""}`;
    case "tool-result":
      return `${data.isError ? "error" : "ok"} in ${Number(data.latencyMs).toFixed(1)} ms: ${short(data.result, 80)}`;
    case "tool-pin":
      return `${data.server}/${data.tool} ${data.status} ${String(data.definitionHash).slice(0, 19)}`;
    case "policy-load":
      return data.ok
        ? `constitution ${data.path ?? "(none: deny all)"} ${data.policyVersion}`
        : `constitution rejected: ${short((data.problems as string[]).join("; "))}`;
    case "checkpoint":
      return `signed head seq ${data.headSeq} ${String(data.headHash).slice(0, 16)}…`;
    case "finding":
      return `[${data.severity}] ${data.detector}: ${short(data.explanation)}`;
    case "claim-check":
      return `${String(data.verdict).toUpperCase()} ${data.kind}: "${short(data.claim, 80)}" (${short(data.reason, 80)})`;
    case "audit-verdict": {
      const votes = Object.entries((data.votes as Record<string, number> | undefined) ?? {})
        .filter(([, count]) => count > 0)
        .map(([verdict, count]) => `${verdict} ${count}`)
        .join(", ");
      return `${String(data.verdict).toUpperCase()} by the auditor (${data.trigger}; ${votes}${data.disagreement ? "; samples disagreed" : ""})${data.problem ? `: ${short(data.problem, 80)}` : ""}`;
    }
    case "kill-switch":
      return `${data.engaged ? "ENGAGED" : "released"} by ${data.by}${data.reason ? `: ${data.reason}` : ""}`;
    default:
      return short(data);
  }
}

export function formatLogLine(event: StoredEvent): string {
  return `${String(event.seq).padStart(6)} ${event.time} ${event.agentId}/${event.sessionId.slice(0, 12)} ${event.type.padEnd(16)} ${describeEvent(event)}`;
}
