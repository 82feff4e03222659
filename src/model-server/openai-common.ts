import { isRecord } from "./conversation.js";
import type { ReplyError } from "./wire-format.js";

type Failure = { ok: false; error: ReplyError };

/** The fields both OpenAI formats require: a JSON object with a `model`, and `stream` a boolean if given. */
export function readOpenAiCommon(body: unknown): { ok: true; model: string; stream: boolean } | Failure {
  if (!isRecord(body)) return invalidType("body", "an object", body);
  if (body.model === undefined) return missing("model");
  if (typeof body.model !== "string") return invalidType("model", "a string", body.model);
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== "boolean") {
    return invalidType("stream", "a boolean", body.stream);
  }
  if (body.tools !== undefined && body.tools !== null && !Array.isArray(body.tools)) {
    return invalidType("tools", "an array", body.tools);
  }
  return { ok: true, model: body.model, stream: body.stream === true };
}

/** OpenAI's error shape: `{ error: { message, type, param, code } }`. */
export function openAiErrorBody(error: ReplyError): unknown {
  return {
    error: {
      message: error.message,
      type: error.type ?? openAiErrorType(error.status),
      param: error.param ?? null,
      code: error.code ?? (error.status === 429 ? "rate_limit_exceeded" : null),
    },
  };
}

function openAiErrorType(status: number): string {
  if (status === 429) return "requests";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

export function missing(param: string): Failure {
  return {
    ok: false,
    error: {
      status: 400,
      message: `Missing required parameter: '${param}'.`,
      param,
      code: "missing_required_parameter",
    },
  };
}

export function invalidType(param: string, expected: string, value: unknown): Failure {
  return {
    ok: false,
    error: {
      status: 400,
      message: `Invalid type for '${param}': expected ${expected}, but got ${typeName(value)} instead.`,
      param,
      code: "invalid_type",
    },
  };
}

export function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return "a string";
  if (typeof value === "number") return Number.isInteger(value) ? "an integer" : "a decimal";
  return `a ${typeof value}`;
}
