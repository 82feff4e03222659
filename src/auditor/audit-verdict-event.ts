import type { EventData, StoredEvent } from "../core/events.js";
import { renderTraceLine } from "./audit-prompt.js";
import type { AuditResult } from "./run-audit.js";

/**
 * The `audit-verdict` event for an audit: the vote, the quotes with the ids of the events they
 * were found in (the line the auditor cited by seq, else the first line holding the quote), the
 * goal and what asked for the audit.
 */
export function auditVerdictData(
  result: AuditResult,
  context: {
    goal: string;
    events: readonly StoredEvent[];
    trigger: EventData<"audit-verdict">["trigger"];
    models: readonly string[];
    problem?: string;
    ruleIds?: readonly string[];
    pendingCall?: { server: string; tool: string };
    by?: string;
  },
): EventData<"audit-verdict"> {
  const idOfSeq = new Map(context.events.map((event) => [event.seq, event.id]));
  const problem = context.problem ?? problemOf(result);
  return {
    verdict: result.verdict,
    trigger: context.trigger,
    votes: { ...result.votes },
    agreement: result.agreement,
    disagreement: result.disagreement,
    quotes: result.evidence.map((item) => {
      const eventId =
        item.seq === undefined
          ? context.events.find((event) => renderTraceLine(event).includes(item.quote))?.id
          : idOfSeq.get(item.seq);
      return {
        quote: item.quote,
        ...(item.seq === undefined ? {} : { seq: item.seq }),
        ...(eventId === undefined ? {} : { eventId }),
      };
    }),
    concerns: result.concerns,
    goal: context.goal,
    promptVersion: result.promptVersion,
    models: [...context.models],
    throughSeq: context.events.at(-1)?.seq ?? 0,
    ...(problem === undefined ? {} : { problem }),
    ...(context.ruleIds === undefined ? {} : { ruleIds: [...context.ruleIds] }),
    ...(context.pendingCall === undefined ? {} : { pendingCall: context.pendingCall }),
    ...(context.by === undefined ? {} : { by: context.by }),
  };
}

/** When no sample was valid, what went wrong with the first (a failing model, an unreadable reply). */
function problemOf(result: AuditResult): string | undefined {
  if (result.votes.invalid < result.samples.length || result.samples.length === 0) return undefined;
  const first = result.samples[0]!;
  return first.valid ? undefined : `no valid sample: ${first.problem}`;
}
