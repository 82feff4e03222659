import { z } from "zod";
import { recordReportsSchema } from "./record-reports.js";

/**
 * The daemon's local API: newline-delimited JSON over a Unix socket. Each request is
 * `{"id", "method", "params"}`; each response `{"id", "result"}` or `{"id", "error": {code, message}}`.
 * The first request on a connection must be `hello`; operator methods need the operator token.
 */
export const rpcRequestSchema = z.object({
  id: z.union([z.number().int(), z.string().max(100)]),
  method: z.string().max(100),
  params: z.unknown().optional(),
});
export type RpcRequest = z.infer<typeof rpcRequestSchema>;

export type RpcRole = "agent" | "operator";

const identity = z.object({
  agentId: z.string().min(1).max(200),
  sessionId: z.string().min(1).max(200),
  traceId: z.string().regex(/^[0-9a-f]{32}$/),
  spanId: z.string().regex(/^[0-9a-f]{16}$/),
});

export const rpcParamSchemas = {
  hello: z.object({ role: z.enum(["agent", "operator"]), token: z.string().optional() }),
  status: z.object({}).optional(),
  "decide-tool-call": identity.extend({
    via: z.enum(["mcp", "gateway"]),
    method: z.string().min(1).max(200),
    server: z.string().min(1).max(200),
    tool: z.string().max(10_000),
    arguments: z.unknown(),
    workingDirectory: z.string().startsWith("/").max(4096).optional(),
  }),
  "record-tool-result": z.object({
    identity,
    result: z.object({
      callId: z.string(),
      isError: z.boolean(),
      latencyMs: z.number(),
      result: z.unknown(),
    }),
  }),
  "check-tool-definitions": z.object({
    identity,
    server: z.string().min(1).max(200),
    tools: z.array(z.object({ name: z.string(), definition: z.unknown() })).max(10_000),
  }),
  "approvals-list": z.object({}).optional(),
  "approvals-decide": z.discriminatedUnion("outcome", [
    z.object({
      approvalId: z.string(),
      outcome: z.literal("approved"),
      reviewer: z.string().min(1),
      scope: z.enum(["once", "session", "always"]),
    }),
    z.object({
      approvalId: z.string(),
      outcome: z.literal("denied"),
      reviewer: z.string().min(1),
      reason: z.string().min(1),
    }),
  ]),
  "tools-approve": z.object({
    server: z.string().min(1),
    tool: z.string().min(1),
    reviewer: z.string().min(1),
  }),
  "kill-switch": z.object({
    engaged: z.boolean(),
    reason: z.string().default(""),
    reviewer: z.string().min(1),
    scope: z.enum(["all", "agent", "session"]).default("all"),
    target: z.string().min(1).max(200).optional(),
  }),
  "tokens-create": z.object({ agentId: z.string().regex(/^[A-Za-z0-9_.:-]{1,100}$/) }),
  shutdown: z.object({}).optional(),
  "users-add": z.object({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
    role: z.enum(["viewer", "reviewer", "admin"]),
    password: z.string().max(1024).nullable().default(null),
  }),
  "sandbox-change-set": z.object({
    identity,
    workspace: z.string().startsWith("/").max(4096),
    sandboxSessionId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    commandStartedAtCtimeNs: z
      .string()
      .regex(/^[0-9]{1,30}$/)
      .optional(),
    run: z.object({
      command: z.array(z.string()).max(10_000),
      exitCode: z.number().int(),
      timedOut: z.boolean(),
      durationMs: z.number(),
      stdoutBytes: z.number().int(),
      stderrBytes: z.number().int(),
      droppedBytes: z.number().int(),
      egress: z
        .array(z.object({ host: z.string().max(300), port: z.number().int(), allowed: z.boolean() }))
        .max(10_000)
        .optional(),
    }),
    review: z.boolean().default(false),
    continuing: z.boolean().default(false),
  }),
  "record-reports": recordReportsSchema,
  "sandbox-decoys": z.object({
    identity,
    workspace: z.string().startsWith("/").max(4096),
    sandboxSessionId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  }),
  "changes-list": z.object({}).optional(),
  "changes-show": z.object({ changeSetId: z.string().min(1).max(100) }),
  "changes-apply": z.object({ changeSetId: z.string().min(1).max(100), reviewer: z.string().min(1) }),
  "changes-discard": z.object({
    changeSetId: z.string().min(1).max(100),
    reviewer: z.string().min(1),
    reason: z.string().min(1).default("discarded by a reviewer"),
  }),
} as const;

export type RpcMethod = keyof typeof rpcParamSchemas;

/** Which role may call each method. The agent role can never decide, approve or stop. */
export const rpcMethodRoles: Record<RpcMethod, RpcRole[]> = {
  hello: ["agent", "operator"],
  status: ["agent", "operator"],
  "decide-tool-call": ["agent", "operator"],
  "record-tool-result": ["agent", "operator"],
  "check-tool-definitions": ["agent", "operator"],
  "approvals-list": ["operator"],
  "approvals-decide": ["operator"],
  "tools-approve": ["operator"],
  "kill-switch": ["operator"],
  "tokens-create": ["operator"],
  shutdown: ["operator"],
  "users-add": ["operator"],
  // A sandbox's change set is read by the daemon itself from the session's layer and decided
  // by the constitution; only a person may apply or discard one by hand.
  "sandbox-change-set": ["agent", "operator"],
  // Findings, claim checks and audit verdicts come from Warden's own detectors and auditor, or
  // from an operator's command; an agent that could write them could clear its own record.
  "record-reports": ["operator"],
  // Plants the constitution's decoys in a session before its first command; the answer is empty.
  "sandbox-decoys": ["agent", "operator"],
  "changes-list": ["operator"],
  "changes-show": ["operator"],
  "changes-apply": ["operator"],
  "changes-discard": ["operator"],
};

export const maxRpcLineBytes = 8 * 1024 * 1024;
