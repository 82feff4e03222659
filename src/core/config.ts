import { z } from "zod";

const mcpServerSchema = z
  .object({
    command: z.string().min(1).describe("The upstream MCP server's executable."),
    args: z.array(z.string()).default([]).describe("Its arguments."),
    cwd: z
      .string()
      .optional()
      .describe("Its working directory (relative paths in tool arguments resolve here)."),
    env: z.record(z.string(), z.string()).optional().describe("Extra environment variables for it."),
  })
  .strict()
  .describe("An upstream MCP server Warden serves over Streamable HTTP at /mcp/NAME.");

const upstreamSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/)
      .describe("The upstream's name in the log (tool calls it proposes are from server `model:NAME`)."),
    baseUrl: z
      .url()
      .describe("Where the model API is, e.g. https://api.openai.com (a trailing /v1 is dropped)."),
    format: z
      .enum(["openai", "anthropic"])
      .describe("Its wire format: openai (Chat Completions, Responses) or anthropic (Messages)."),
    apiKeyEnv: z
      .string()
      .optional()
      .describe("Environment variable of the daemon holding the provider's API key; agents never hold it."),
    models: z
      .array(z.string())
      .optional()
      .describe("Models routed here: exact names or globs with *. Absent: every model of its format."),
  })
  .strict()
  .describe("A model API the gateway forwards to.");

const agentLimitSchema = z
  .object({
    requestsPerMinute: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe("Model requests the agent may start in any 60-second window."),
    tokensPerMinute: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe(
        "Tokens (input + output, as the upstream reports usage) the agent may use in any 60-second window.",
      ),
    tokensPerDay: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe("Tokens the agent may use in any 24-hour window."),
  })
  .strict()
  .describe(
    "Limits for one agent. A request over a limit is answered with the client format's own 429 and recorded; an absent limit does not apply.",
  );

const auditorSchema = z
  .object({
    upstream: z
      .string()
      .describe(
        "Name of the upstream (under upstreams, openai format) the auditor models are asked through; the daemon holds its key.",
      ),
    models: z
      .array(z.string().min(1))
      .min(1)
      .describe("Auditor models; samples are spread over them in turn."),
    samples: z.number().int().min(1).max(50).default(3).describe("Samples voted over per audit."),
    threshold: z
      .number()
      .gt(0)
      .max(1)
      .default(0.67)
      .describe("Share of valid samples a verdict needs (a rule's audit.threshold may ask for more)."),
    timeoutSeconds: z
      .number()
      .min(1)
      .max(600)
      .default(60)
      .describe("Longest a gated call waits for the audit; then the verdict is inconclusive (fail closed)."),
    goal: z
      .string()
      .min(1)
      .default("The task the user gave the agent in this session (read it from the trace).")
      .describe("What sessions are judged against when a rule does not say (audit.goal)."),
    sessions: z
      .enum(["off", "on-end"])
      .default("off")
      .describe(
        "on-end: also audit each session in the background once it has been quiet for sessionIdleSeconds, recording an audit-verdict event without blocking anything.",
      ),
    sessionIdleSeconds: z
      .number()
      .min(1)
      .max(86_400)
      .default(300)
      .describe("How long a session must be quiet to count as ended for sessions: on-end."),
  })
  .strict()
  .describe("The auditor model: gates for constitution rules with `audit:`, and background session audits.");
const manifestAgentSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9_.:*-]{1,100}$/,
    "must be an agent id (letters, digits, _ . : -) or a glob of ids with *",
  )
  .describe("An agent id (as in `warden tokens create --agent NAME`) or a glob of ids with *.");

const manifestToolSchema = z
  .string()
  .regex(
    /^[^\s/]+(?:\/[^\s]+)?$/,
    "must be TOOL or SERVER/TOOL, without spaces (* matches any run of characters)",
  )
  .describe(
    "A tool the agent declared: SERVER/TOOL (an MCP server of mcpServers, model:UPSTREAM for tools a model proposes, sdk:NAME) or a bare TOOL of any server; * globs.",
  );

/** `warden up --config FILE`: everything the daemon can be told in one file. */
export const configSchema = z
  .object({
    version: z.literal(1).describe("Config format version; must be 1."),
    policy: z
      .string()
      .optional()
      .describe("The constitution file (YAML); relative to this file. --policy wins."),
    witness: z
      .string()
      .optional()
      .describe("File outside the data directory, or URL, receiving checkpoint heads."),
    listen: z
      .object({
        host: z
          .string()
          .default("127.0.0.1")
          .describe("Address for the HTTP listener; keep 127.0.0.1 unless fronted by a proxy."),
        port: z
          .number()
          .int()
          .min(0)
          .max(65535)
          .default(7400)
          .describe("Port for the HTTP listener (0: any free port)."),
        allowedHosts: z
          .array(z.string())
          .optional()
          .describe(
            "Host header values accepted (DNS-rebinding protection); default localhost forms of the port.",
          ),
      })
      .strict()
      .default({ host: "127.0.0.1", port: 7400 })
      .describe("The HTTP listener (Streamable HTTP MCP; later the gateway and API)."),
    upstreams: z.array(upstreamSchema).default([]).describe("Model APIs served by the gateway at /v1/..."),
    mcpServers: z
      .record(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/), mcpServerSchema)
      .default({})
      .describe("Upstream MCP servers by name."),
    gateway: z
      .object({
        mcpExecutedTools: z
          .array(z.string().min(1))
          .default([])
          .describe(
            "Tools (names or globs with *) the agent runs only through Warden's MCP proxy, where each call is decided at execution. The gateway records their proposals without deciding them a second time. List only tools the agent cannot run any other way. Default none: every tool call a model proposes is decided when proposed.",
          ),
      })
      .strict()
      .default({ mcpExecutedTools: [] })
      .describe("The model gateway at /v1/..."),
    limits: z
      .object({
        default: agentLimitSchema
          .optional()
          .describe("Limits for every agent without its own entry under agents."),
        agents: z
          .record(z.string().min(1), agentLimitSchema)
          .default({})
          .describe("Limits by agent name (as in `warden tokens create --agent NAME`); replace the default."),
      })
      .strict()
      .optional()
      .describe(
        "Per-agent rate limits and token budgets for model traffic through the gateway. Absent: no limit applies.",
      ),
    approvals: z
      .object({
        maxHoldsPerAgentPerMinute: z
          .number()
          .int()
          .min(1)
          .default(30)
          .describe(
            "Calls one agent may have held for a reviewer in any 60 s; the excess is denied (rule approvals-rate-limit).",
          ),
        maxOpenHoldsPerAgent: z
          .number()
          .int()
          .min(1)
          .default(100)
          .describe(
            "Calls of one agent waiting for a reviewer at once; the excess is denied (rule approvals-rate-limit).",
          ),
      })
      .strict()
      .optional()
      .describe("Limits on held calls, so that an agent cannot flood reviewers."),
    notifications: z
      .object({
        webhooks: z
          .array(
            z
              .object({
                url: z.url().describe("Where events are POSTed."),
                format: z
                  .enum(["json", "slack"])
                  .default("json")
                  .describe("json: {type, summary, event}; slack: {text} for Slack incoming webhooks."),
                events: z
                  .array(z.string())
                  .optional()
                  .describe("Event types sent; default approval-request, kill-switch and finding."),
              })
              .strict(),
          )
          .default([])
          .describe("Webhooks, retried with back-off; a failed webhook never releases a held call."),
      })
      .strict()
      .optional()
      .describe("Notifications to people about held calls, kill-switch use and findings."),
    dashboard: z
      .object({
        sessionIdleMinutes: z
          .number()
          .min(1)
          .max(24 * 60)
          .default(30)
          .describe("A dashboard login ends after this long without a request."),
        listen: z
          .object({
            host: z.string().default("127.0.0.1").describe("Address of the reviewer listener."),
            port: z.number().int().min(0).max(65535).describe("Its port (0: any free port)."),
            allowedHosts: z
              .array(z.string())
              .optional()
              .describe("Host header values accepted; default localhost forms of the port."),
          })
          .strict()
          .optional()
          .describe(
            "Serve the reviewer API and the dashboard on their own listener instead of the gateway's (agents' port then has no /api).",
          ),
      })
      .strict()
      .optional()
      .describe("The reviewer dashboard served at /."),
    detection: z
      .object({
        manifests: z
          .record(manifestAgentSchema, z.array(manifestToolSchema))
          .default({})
          .describe(
            "Per agent id or glob, the tools it declared. A call outside its agent's manifest is a high finding of the unexpected-tool detector; an agent's own entry wins over globs, else the first matching glob. An agent no entry matches has no manifest.",
          ),
      })
      .strict()
      .optional()
      .describe("The detectors' configuration."),
    retention: z
      .object({
        days: z
          .number()
          .min(183)
          .default(183)
          .describe(
            "Events older than this are removed, up to a signed checkpoint that keeps the rest verifiable. At least 183 days (six months, as EU AI Act Art. 19 expects of high-risk systems).",
          ),
      })
      .strict()
      .default({ days: 183 })
      .describe("How long the record is kept."),
    auditor: auditorSchema.optional(),
  })
  .strict();

export type WardenConfig = z.infer<typeof configSchema>;
export type AgentLimits = z.infer<typeof agentLimitSchema>;
export type AuditorConfig = z.infer<typeof auditorSchema>;
export type LimitsConfig = NonNullable<WardenConfig["limits"]>;
