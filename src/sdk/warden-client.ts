import { randomUUID } from "node:crypto";
import http from "node:http";
import https from "node:https";
import { postJson } from "./post-json.js";
import { ToolCallDeniedError, WardenUnavailableError } from "./sdk-errors.js";

export interface WardenClientOptions {
  /** Warden's HTTP address. Default `$WARDEN_URL`, else `http://127.0.0.1:7400`. */
  baseUrl?: string;
  /** The agent's Warden token (`warden tokens create --agent NAME`). Default `$WARDEN_TOKEN`. */
  token?: string;
  /** The session every call belongs to. Default `$WARDEN_SESSION`, else a new random id. */
  sessionId?: string;
  /** Longest wait for one decision, held calls included; default no limit (held calls wait for a person). */
  decisionTimeoutMs?: number;
}

/** A decision as Warden made it; a denial names the rule and gives its message for the agent. */
export type ToolDecision =
  | { effect: "allow"; callId: string }
  | { effect: "deny"; callId?: string; ruleId: string; message: string };

export interface GuardOptions {
  /** The group of tools rules see as server `sdk:NAME`; default `local`. */
  server?: string;
}

const sessionPattern = /^[\x21-\x7e]{1,128}$/;

/**
 * The agent's side of Warden: one session, model clients pointed at the gateway, and local
 * functions turned into guarded tools whose calls the constitution decides and the record keeps.
 *
 * @example
 * import OpenAI from "openai";
 * import { WardenClient, ToolCallDeniedError } from "warden/sdk";
 *
 * const warden = new WardenClient({ token: process.env.WARDEN_TOKEN });
 * const openai = new OpenAI(warden.openAiOptions());
 * const deleteBranch = warden.guard("delete_branch", async ({ name }: { name: string }) => git.deleteBranch(name), {
 *   server: "git",
 * });
 * try {
 *   await deleteBranch({ name: "main" });
 * } catch (error) {
 *   if (ToolCallDeniedError.isInstance(error)) tellTheModel(error.message); // names the rule and its reason
 * }
 */
export class WardenClient {
  readonly baseUrl: string;
  readonly sessionId: string;
  readonly #token: string;
  readonly #decisionTimeoutMs: number | undefined;
  readonly #agents: { http: http.Agent; https: https.Agent };

  constructor(options: WardenClientOptions = {}, agents?: { http: http.Agent; https: https.Agent }) {
    const baseUrl = options.baseUrl ?? process.env.WARDEN_URL ?? "http://127.0.0.1:7400";
    try {
      new URL(baseUrl);
    } catch {
      throw new TypeError(`baseUrl: "${baseUrl}" is not a URL`);
    }
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    const token = options.token ?? process.env.WARDEN_TOKEN;
    if (token === undefined || token === "")
      throw new TypeError(
        "token: required (pass it, or set WARDEN_TOKEN; `warden tokens create --agent NAME` makes one)",
      );
    this.#token = token;
    const sessionId = options.sessionId ?? process.env.WARDEN_SESSION ?? `sdk-${randomUUID()}`;
    if (!sessionPattern.test(sessionId))
      throw new TypeError("sessionId: printable ASCII without spaces, 1 to 128 characters");
    this.sessionId = sessionId;
    this.#decisionTimeoutMs = options.decisionTimeoutMs;
    this.#agents = agents ?? {
      http: new http.Agent({ keepAlive: true }),
      https: new https.Agent({ keepAlive: true }),
    };
  }

  /** The same Warden and token in another session (sharing connections). */
  withSession(sessionId: string): WardenClient {
    return new WardenClient(
      {
        baseUrl: this.baseUrl,
        token: this.#token,
        sessionId,
        ...(this.#decisionTimeoutMs === undefined ? {} : { decisionTimeoutMs: this.#decisionTimeoutMs }),
      },
      this.#agents,
    );
  }

  /** Headers that put a model call in this session (`X-Warden-Session`). */
  get headers(): Record<string, string> {
    return { "x-warden-session": this.sessionId };
  }

  /** Options for `new OpenAI(...)`: Warden's gateway, the agent token, this session. */
  openAiOptions(): { baseURL: string; apiKey: string; defaultHeaders: Record<string, string> } {
    return { baseURL: `${this.baseUrl}/v1`, apiKey: this.#token, defaultHeaders: this.headers };
  }

  /** Options for `new Anthropic(...)`: Warden's gateway, the agent token, this session. */
  anthropicOptions(): { baseURL: string; apiKey: string; defaultHeaders: Record<string, string> } {
    return { baseURL: this.baseUrl, apiKey: this.#token, defaultHeaders: this.headers };
  }

  /**
   * Asks for a decision without running anything. Resolves to a denial (never rejects) when
   * Warden cannot be reached or cannot decide: fail closed.
   */
  async decide(tool: string, toolArguments: unknown, options: GuardOptions = {}): Promise<ToolDecision> {
    const answer = await this.#post(
      "/v1/warden/tool-calls",
      { sessionId: this.sessionId, server: options.server ?? "local", tool, arguments: toolArguments ?? {} },
      this.#decisionTimeoutMs,
    );
    const body = answer.body as Partial<ToolDecision> | null;
    if (answer.status === 200 && body?.effect === "allow" && typeof body.callId === "string")
      return { effect: "allow", callId: body.callId };
    if (
      answer.status === 200 &&
      body?.effect === "deny" &&
      typeof body.ruleId === "string" &&
      typeof body.message === "string"
    )
      return {
        effect: "deny",
        ruleId: body.ruleId,
        message: body.message,
        ...(typeof body.callId === "string" ? { callId: body.callId } : {}),
      };
    return {
      effect: "deny",
      ruleId: "warden-unavailable",
      message: `Warden could not decide this call, so it was not run (${describeAnswer(answer)}).`,
    };
  }

  /**
   * Wraps a function as a guarded tool: each call is decided first (and may wait for a reviewer),
   * runs only if allowed, and its result (or error) is recorded before it is returned.
   * A denial throws `ToolCallDeniedError`; an unrecorded result throws `WardenUnavailableError`.
   */
  guard<Arguments, Result>(
    tool: string,
    run: (toolArguments: Arguments) => Promise<Result> | Result,
    options: GuardOptions = {},
  ): (toolArguments: Arguments) => Promise<Result> {
    return async (toolArguments: Arguments) => {
      const decision = await this.decide(tool, toolArguments, options);
      if (decision.effect === "deny")
        throw new ToolCallDeniedError(tool, decision.ruleId, decision.message, decision.callId);
      const started = performance.now();
      let outcome: { isError: false; value: Result } | { isError: true; error: unknown };
      try {
        outcome = { isError: false, value: await run(toolArguments) };
      } catch (error) {
        outcome = { isError: true, error };
      }
      const answer = await this.#post(
        "/v1/warden/tool-results",
        {
          callId: decision.callId,
          isError: outcome.isError,
          latencyMs: Math.round((performance.now() - started) * 1000) / 1000,
          result: outcome.isError ? { error: describeError(outcome.error) } : toJson(outcome.value),
        },
        undefined,
      );
      if (answer.status !== 200)
        throw new WardenUnavailableError(
          `The result of ${tool} could not be recorded, so it is withheld (${describeAnswer(answer)}).`,
          answer.status,
        );
      if (outcome.isError) throw outcome.error;
      return outcome.value;
    };
  }

  /** Closes idle connections (only those this client created). */
  close(): void {
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }

  #post(path: string, body: unknown, timeoutMs: number | undefined) {
    return postJson(
      new URL(path, `${this.baseUrl}/`),
      { authorization: `Bearer ${this.#token}`, ...this.headers },
      body,
      this.#agents,
      timeoutMs,
    );
  }
}

function describeAnswer(answer: { status: number; body: unknown }): string {
  if (answer.status === 0) return "Warden could not be reached";
  const message = (answer.body as { error?: { message?: unknown } } | null)?.error?.message;
  return typeof message === "string" ? `${answer.status}: ${message}` : `status ${answer.status}`;
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** What the record keeps of a result: its JSON, or a description when it has none. */
function toJson(value: unknown): unknown {
  if (value === undefined) return null;
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch (error) {
    return { unserializable: describeError(error) };
  }
}
