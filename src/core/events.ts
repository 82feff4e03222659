import { z } from "zod";
import { approversSchema, auditVerdictKinds, policyDecisionSchema } from "./decision.js";

export { auditVerdictKinds };

const json = z.unknown();

/** What an agent can claim that the record can check (`verify/`). */
export const claimKinds = [
  "tests-pass",
  "build-succeeded",
  "file-created",
  "file-changed",
  "file-deleted",
  "file-unchanged",
  "command-ran",
  "deployed",
  "task-complete",
] as const;
export const claimVerdicts = ["supported", "contradicted", "unverifiable"] as const;

/**
 * Who the call is going to: an MCP server by name, a model-proposed tool via the gateway, or a
 * tool the agent runs in its own process, guarded by the SDK (`server` is then `sdk:NAME`).
 */
const toolCallData = z.object({
  callId: z.string(),
  via: z.enum(["mcp", "gateway", "sdk", "sandbox"]),
  method: z.string().describe("The protocol method, e.g. tools/call or resources/read."),
  server: z.string(),
  tool: z.string(),
  arguments: json,
  workingDirectory: z.string().optional(),
});

/** Every event type's data schema, keyed by type. Types are `<noun>-<action>`. */
export const eventDataSchemas = {
  "model-request": z.object({ provider: z.string(), model: z.string(), path: z.string(), body: json }),
  "model-response": z.object({
    provider: z.string(),
    model: z.string(),
    status: z.number().int(),
    streamed: z.boolean(),
    latencyMs: z.number(),
    body: json,
    /**
     * The gateway's verdict on each tool call the model proposed: decided (`allow`, `deny`, with
     * the `tool-call` record's `callId`), `record-only` (decided when executed through the MCP
     * proxy) or `incomplete` (cut off). What the agent was shown follows from these.
     */
    toolCalls: z
      .array(
        z.object({
          id: z.string(),
          name: z.string(),
          verdict: z.enum(["allow", "deny", "record-only", "incomplete"]),
          ruleId: z.string().optional(),
          callId: z.string().optional(),
        }),
      )
      .optional(),
  }),
  "tool-call": toolCallData,
  "policy-decision": policyDecisionSchema.extend({ callId: z.string() }),
  "approval-request": z.object({
    approvalId: z.string(),
    callId: z.string(),
    ruleId: z.string(),
    approvers: approversSchema,
    expiresAt: z.string(),
    server: z.string(),
    tool: z.string(),
    arguments: json,
  }),
  "approval-decision": z.object({
    approvalId: z.string(),
    callId: z.string(),
    outcome: z.enum(["approved", "denied", "expired"]),
    reviewer: z.string(),
    reason: z.string().optional(),
    scope: z.enum(["once", "session", "always"]),
  }),
  "tool-result": z.object({
    callId: z.string(),
    isError: z.boolean(),
    latencyMs: z.number(),
    result: json,
    /** Session labels added by rules that read this result. */
    labels: z.array(z.string()).optional(),
  }),
  "tool-pin": z.object({
    server: z.string(),
    tool: z.string(),
    definitionHash: z.string(),
    status: z.enum(["pinned", "changed", "approved"]),
    approvedBy: z.string().optional(),
  }),
  "policy-load": z.object({
    ok: z.boolean(),
    path: z.string().nullable(),
    policyVersion: z.string().nullable(),
    problems: z.array(z.string()),
  }),
  "sandbox-run": z
    .object({ command: z.array(z.string()), exitCode: z.number().int().nullable() })
    .passthrough(),
  finding: z
    .object({
      detector: z.string(),
      severity: z.enum(["info", "low", "medium", "high", "critical"]),
      explanation: z.string(),
      evidence: z.array(
        z.object({
          eventId: z.string(),
          span: z.tuple([z.number(), z.number()]).optional(),
          /** Which text of the event `span` counts in, when it has several (see model-reply-text). */
          field: z.string().optional(),
        }),
      ),
    })
    .passthrough(),
  /**
   * One claim from an agent's message checked against recorded evidence only: `supported`,
   * `contradicted` (a high `finding` with `claimCheckId` follows) or `unverifiable` (the record
   * says nothing either way; never taken as support).
   */
  "claim-check": z
    .object({
      claim: z.string().describe("The sentence that makes the claim."),
      kind: z.enum(claimKinds),
      subject: z.string().optional().describe("The path or command the claim names."),
      verdict: z.enum(claimVerdicts),
      reason: z.string(),
      /** The model response the claim is in, where (UTF-16 offsets into `field`'s text). */
      message: z.object({
        eventId: z.string(),
        spanId: z.string(),
        span: z.tuple([z.number(), z.number()]),
        field: z.string().optional(),
      }),
      evidenceEventIds: z.array(z.string()),
      detector: z.string(),
      sourceSeq: z.number().int().optional(),
      ordinal: z.number().int().optional(),
    })
    .strict(),
  /**
   * A second model's review of a session (`warden audit`, a rule's audit gate, or the background
   * auditor): the voted verdict, the split, quotes found in the trace with their event ids.
   */
  "audit-verdict": z
    .object({
      verdict: z.enum(auditVerdictKinds),
      trigger: z.enum(["command", "gate", "session-end"]),
      votes: z.record(z.string(), z.number().int()),
      agreement: z.number(),
      disagreement: z.boolean(),
      quotes: z.array(
        z.object({ quote: z.string(), seq: z.number().int().optional(), eventId: z.string().optional() }),
      ),
      concerns: z.array(z.object({ rule: z.string().optional(), goal: z.string().optional() })),
      goal: z.string(),
      promptVersion: z.string(),
      models: z.array(z.string()),
      /** The last event of the session the auditor saw. */
      throughSeq: z.number().int(),
      /** Why no verdict could be reached (every sample failed, the audit timed out). */
      problem: z.string().optional(),
      /** With `trigger: gate`: the rules that asked for it and the call it decided. */
      ruleIds: z.array(z.string()).optional(),
      pendingCall: z.object({ server: z.string(), tool: z.string() }).optional(),
      by: z.string().optional(),
    })
    .strict(),
  "kill-switch": z.object({
    engaged: z.boolean(),
    by: z.string(),
    reason: z.string().optional(),
    /** What is halted or resumed: everything (absent), one agent or one session. */
    scope: z.enum(["all", "agent", "session"]).optional(),
    target: z.string().optional(),
  }),
  checkpoint: z.object({
    /** The seq and hash of the event this checkpoint commits to (the one before it). */
    headSeq: z.number().int(),
    headHash: z.string(),
    keyId: z.string(),
    signature: z.string(),
    /**
     * With replicas on PostgreSQL: the heads of the other replicas' chains when it was written.
     * They are part of this hashed event, so the next signed checkpoint commits to them too.
     */
    chainHeads: z.array(z.object({ chain: z.string(), seq: z.number().int(), hash: z.string() })).optional(),
  }),
  "eval-sample": z.object({ scenario: z.string() }).passthrough(),
  /** Retention is about to remove every event up to `removedThroughSeq` (a checkpoint follows it). */
  "retention-prune": z.object({
    removedThroughSeq: z.number().int(),
    removedEvents: z.number().int(),
    olderThan: z.string(),
    retentionDays: z.number(),
  }),
  /** A reviewer's grant: later identical calls (server, tool, rule) of the session or agent are allowed. */
  "grant-created": z.object({
    grantId: z.string(),
    scope: z.enum(["session", "always"]),
    agentId: z.string(),
    sessionId: z.string().optional(),
    server: z.string(),
    tool: z.string(),
    ruleId: z.string(),
    by: z.string(),
    approvalId: z.string().optional(),
  }),
  "grant-revoked": z.object({ grantId: z.string(), by: z.string() }),
  /**
   * The cumulative change set of a sandbox session after a command, as staged for a decision:
   * `facts` are what rules read (`tool.arguments` of the call `sandbox`/`change-set`, whose
   * `tool-call` and `policy-decision` records carry the same `callId`).
   */
  "change-set": z.object({
    changeSetId: z.string(),
    sandboxSessionId: z.string(),
    workspace: z.string(),
    callId: z.string(),
    facts: json,
    changes: z.array(
      z
        .object({
          path: z.string(),
          kind: z.enum(["added", "modified", "deleted"]),
          before: json,
          after: json,
        })
        .passthrough(),
    ),
    needsPerson: z.array(z.object({ path: z.string(), reason: z.string() })),
    /** The session goes on after this change set (sandbox-mcp, `exec --session`): its layer is kept. */
    continuing: z.boolean().optional(),
  }),
  /**
   * Decoys (the constitution's tripwires) planted in a sandbox session's view of its workspace:
   * their paths, and keyed fingerprints (the store's HMAC key, which the agent cannot read) of
   * each file's SHA-256 and of the decoy credentials, so the tripwire detector knows them by the
   * record alone. Never part of a change set.
   */
  "decoy-plant": z.object({
    sandboxSessionId: z.string(),
    workspace: z.string(),
    files: z.array(z.object({ path: z.string(), contentFingerprint: z.string() })),
    credentials: z.array(z.object({ name: z.string(), fingerprint: z.string() })),
  }),
  /** What became of a change set: applied, discarded, held for a person, or refused on conflict. */
  "change-set-outcome": z.object({
    changeSetId: z.string(),
    outcome: z.enum(["applied", "discarded", "held", "refused", "superseded"]),
    ruleId: z.string().nullable(),
    by: z.string(),
    approvalId: z.string().optional(),
    conflicts: z.array(z.object({ path: z.string(), reason: z.string() })).optional(),
    reason: z.string().optional(),
  }),
} as const;

export type EventType = keyof typeof eventDataSchemas;
export const eventTypes = Object.keys(eventDataSchemas) as EventType[];
export type EventData<T extends EventType> = z.infer<(typeof eventDataSchemas)[T]>;

export function isEventType(value: string): value is EventType {
  return Object.hasOwn(eventDataSchemas, value);
}

/** What a producer hands to the store; the store assigns id, seq, time and the hashes. */
export interface EventInput<T extends EventType = EventType> {
  type: T;
  agentId: string;
  sessionId: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string | undefined;
  data: EventData<T>;
}

export const storedEventSchema = z.object({
  id: z.string(),
  seq: z.number().int().min(1),
  time: z.string(),
  traceId: z.string(),
  spanId: z.string(),
  parentSpanId: z.string().optional(),
  agentId: z.string(),
  sessionId: z.string(),
  type: z.string(),
  data: json,
  prevHash: z.string(),
  hash: z.string(),
});

export interface StoredEvent<T extends EventType = EventType> extends EventInput<T> {
  id: string;
  seq: number;
  time: string;
  prevHash: string;
  hash: string;
}

export function validateEventData<T extends EventType>(type: T, data: unknown): EventData<T> {
  return eventDataSchemas[type].parse(data) as EventData<T>;
}
