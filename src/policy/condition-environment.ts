import { Environment } from "@marcbachmann/cel-js";
import { createLinearTimeMatcher } from "./linear-time-regex.js";

/** The name `matches` calls are rewritten to; see compile-condition.ts. */
export const linearTimeMatchesFunction = "__warden_re2_matches";

/*
 * The variables a condition sees are typed (not plain maps), so a misspelt field such as
 * `tool.nmae` or a type error such as `tool.name + 1` is a problem when the constitution is
 * loaded rather than a surprise on the first call. Instances are built once per decision and
 * shared by every rule.
 */
/** The agent's recent model traffic through the gateway (`agent.usage`); zero when there is none. */
export class UsageContext {
  constructor(
    readonly requestsLastMinute: bigint,
    readonly tokensLastMinute: bigint,
    readonly tokensLastDay: bigint,
  ) {}

  static readonly none = new UsageContext(0n, 0n, 0n);

  static of(
    usage: { requestsLastMinute: number; tokensLastMinute: number; tokensLastDay: number } | undefined,
  ) {
    if (usage === undefined) return UsageContext.none;
    const int = (value: number) => BigInt(Number.isSafeInteger(value) && value > 0 ? value : 0);
    return new UsageContext(
      int(usage.requestsLastMinute),
      int(usage.tokensLastMinute),
      int(usage.tokensLastDay),
    );
  }
}

export class AgentContext {
  constructor(
    readonly id: string,
    readonly usage: UsageContext = UsageContext.none,
  ) {}
}

export class ToolContext {
  readonly arguments: unknown;

  constructor(
    readonly server: string,
    readonly name: string,
    readonly method: string,
    callArguments: unknown,
  ) {
    this.arguments = callArguments;
  }
}

/** The detectors' findings about the session so far (`session.findings`). */
export class FindingsContext {
  constructor(
    readonly count: bigint,
    readonly critical: bigint,
    readonly high: bigint,
    readonly detectors: readonly string[],
  ) {}

  static readonly none = new FindingsContext(0n, 0n, 0n, []);

  static of(
    findings: { count: number; critical: number; high: number; detectors: readonly string[] } | undefined,
  ): FindingsContext {
    if (findings === undefined) return FindingsContext.none;
    return new FindingsContext(
      BigInt(Math.trunc(findings.count)),
      BigInt(Math.trunc(findings.critical)),
      BigInt(Math.trunc(findings.high)),
      [...findings.detectors],
    );
  }
}

export class SessionContext {
  constructor(
    readonly id: string,
    readonly labels: readonly string[],
    readonly facts: Readonly<Record<string, unknown>>,
    readonly findings: FindingsContext = FindingsContext.none,
  ) {}
}

/** A tool's result, for rules that label a session by what a call returned. */
export class ResultContext {
  constructor(
    /** The text parts of the result joined by newlines (MCP `content[].text`), else its JSON. */
    readonly text: string,
    readonly isError: boolean,
  ) {}

  /** What rules that do not read `result` see: they are never evaluated against a result. */
  static readonly none = new ResultContext("", false);
}

/** Time of the decision in UTC. CEL integers are BigInt in cel-js. */
export class TimeContext {
  constructor(
    readonly iso: string,
    readonly date: string,
    readonly hour: bigint,
    readonly minute: bigint,
    /** 0 = Sunday ... 6 = Saturday. */
    readonly weekday: bigint,
  ) {}

  static at(now: Date): TimeContext {
    const iso = now.toISOString();
    return new TimeContext(
      iso,
      iso.slice(0, 10),
      BigInt(now.getUTCHours()),
      BigInt(now.getUTCMinutes()),
      BigInt(now.getUTCDay()),
    );
  }
}

export interface ConditionContext {
  agent: AgentContext;
  tool: ToolContext;
  session: SessionContext;
  env: Readonly<Record<string, string>>;
  time: TimeContext;
  result: ResultContext;
}

/**
 * The CEL environment conditions are compiled in: the five variables above, nothing else
 * (`unlistedVariablesAreDyn: false`, so `tol.name` is a load-time problem), and `matches`
 * backed by RE2. Create one per engine: it holds the compiled-pattern cache.
 */
export function createConditionEnvironment(): Environment {
  const matches = createLinearTimeMatcher();
  return new Environment({ unlistedVariablesAreDyn: false, homogeneousAggregateLiterals: false })
    .registerType("warden.Usage", {
      ctor: UsageContext,
      fields: { requestsLastMinute: "int", tokensLastMinute: "int", tokensLastDay: "int" },
    })
    .registerType("warden.Agent", { ctor: AgentContext, fields: { id: "string", usage: "warden.Usage" } })
    .registerType("warden.Tool", {
      ctor: ToolContext,
      fields: { server: "string", name: "string", method: "string", arguments: "dyn" },
    })
    .registerType("warden.Findings", {
      ctor: FindingsContext,
      fields: { count: "int", critical: "int", high: "int", detectors: "list<string>" },
    })
    .registerType("warden.Session", {
      ctor: SessionContext,
      fields: {
        id: "string",
        labels: "list<string>",
        facts: "map<string, dyn>",
        findings: "warden.Findings",
      },
    })
    .registerType("warden.Time", {
      ctor: TimeContext,
      fields: { iso: "string", date: "string", hour: "int", minute: "int", weekday: "int" },
    })
    .registerType("warden.Result", { ctor: ResultContext, fields: { text: "string", isError: "bool" } })
    .registerVariable("agent", "warden.Agent", {
      description:
        "The agent making the call: id, and usage (requestsLastMinute, tokensLastMinute, tokensLastDay of its model traffic).",
    })
    .registerVariable("tool", "warden.Tool", {
      description: "The call: server, tool name, protocol method, arguments.",
    })
    .registerVariable("session", "warden.Session", {
      description:
        "The agent's session: id, labels, facts, and findings (count, critical, high, detectors) the detectors have made about it. A rule reading session.findings waits a bounded time for the detectors to reach the session's latest event.",
    })
    .registerVariable("env", "map<string, string>", {
      description: "Deployment facts the operator supplies.",
    })
    .registerVariable("time", "warden.Time", { description: "The time of the decision (UTC)." })
    .registerVariable("result", "warden.Result", {
      description:
        "The call's result (text, isError). A rule that reads it runs when the result arrives and may only add labels.",
    })
    .registerFunction(`string.${linearTimeMatchesFunction}(string): bool`, (text: string, pattern: string) =>
      matches(text, pattern),
    )
    .registerFunction(`${linearTimeMatchesFunction}(string, string): bool`, (text: string, pattern: string) =>
      matches(text, pattern),
    );
}
