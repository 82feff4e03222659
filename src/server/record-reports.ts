import { z } from "zod";
import { WardenError } from "../core/errors.js";
import type { EventStore } from "../core/event-store.js";
import { type EventData, eventDataSchemas } from "../core/events.js";
import { newSpanId, newTraceId } from "../core/ids.js";
import { appendReport, type DetectorReport, isClaimCheckReport, reportedKeys } from "../detect/index.js";

const reportSourceSchema = z.object({
  seq: z.number().int().min(1),
  id: z.string().min(1).max(100),
  agentId: z.string().min(1).max(200),
  sessionId: z.string().min(1).max(200),
  traceId: z.string().regex(/^[0-9a-f]{32}$/),
  spanId: z.string().regex(/^[0-9a-f]{16}$/),
});

/**
 * What an operator's command (`warden scan --record`, `warden audit`) asks the record to hold:
 * detector reports about recorded events, and auditor verdicts about sessions. Only the
 * operator may send it (rpcMethodRoles); no agent-facing API appends these types.
 */
export const recordReportsSchema = z.object({
  reports: z
    .array(
      z.object({
        source: reportSourceSchema,
        detector: z.string().min(1).max(100),
        ordinal: z.number().int().min(0),
        report: z.unknown(),
      }),
    )
    .max(1_000_000)
    .default([]),
  auditVerdicts: z
    .array(
      z.object({
        agentId: z.string().min(1).max(200),
        sessionId: z.string().min(1).max(200),
        traceId: z
          .string()
          .regex(/^[0-9a-f]{32}$/)
          .optional(),
        data: eventDataSchemas["audit-verdict"],
      }),
    )
    .max(100)
    .default([]),
});
export type RecordReportsRequest = z.input<typeof recordReportsSchema>;

export interface RecordReportsResult {
  recorded: number;
  alreadyReported: number;
  /** The ids of the `audit-verdict` events, in the order given. */
  auditVerdictIds: string[];
}

/**
 * Appends the reports the log does not hold yet (by key, as the detection pipeline does, so a
 * second `scan --record` adds nothing) and every audit verdict, then waits until they are
 * durable. Every report is checked before anything is written.
 */
export async function recordReports(
  store: EventStore,
  request: RecordReportsRequest,
): Promise<RecordReportsResult> {
  const { reports, auditVerdicts } = recordReportsSchema.parse(request);
  for (const [index, item] of reports.entries()) checkReport(item.report, `reports[${index}].report`);
  const keys = await reportedKeys(store);
  const result: RecordReportsResult = { recorded: 0, alreadyReported: 0, auditVerdictIds: [] };
  for (const item of reports) {
    const count = await appendReport(store, {
      source: item.source,
      ordinal: item.ordinal,
      report: item.report as DetectorReport,
      keys,
    });
    result.recorded += count.recorded;
    result.alreadyReported += count.alreadyReported;
  }
  for (const verdict of auditVerdicts) {
    const event = await store.append(
      {
        type: "audit-verdict",
        agentId: verdict.agentId,
        sessionId: verdict.sessionId,
        traceId: verdict.traceId ?? newTraceId(),
        spanId: newSpanId(),
        data: verdict.data as EventData<"audit-verdict">,
      },
      { durability: "buffered" },
    );
    result.auditVerdictIds.push(event.id);
    result.recorded++;
  }
  await store.flush();
  return result;
}

function checkReport(report: unknown, path: string): void {
  const problem = (type: string, issues: z.core.$ZodIssue[]) => {
    const issue = issues[0];
    return new WardenError(
      "input-invalid",
      `${path}${issue?.path.length ? `.${issue.path.join(".")}` : ""}: ${issue?.message ?? `not a ${type}`}`,
    );
  };
  if (typeof report !== "object" || report === null)
    throw new WardenError("input-invalid", `${path}: must be an object`);
  const value = report as DetectorReport;
  if (isClaimCheckReport(value)) {
    const checked = eventDataSchemas["claim-check"].safeParse(value.claimCheck);
    if (!checked.success) throw problem("claim check", checked.error.issues);
    if (value.finding === undefined) return;
    const finding = eventDataSchemas.finding.safeParse(value.finding);
    if (!finding.success) throw problem("finding", finding.error.issues);
    return;
  }
  const finding = eventDataSchemas.finding.safeParse(value);
  if (!finding.success) throw problem("finding", finding.error.issues);
}
