/** OpenAI's error shape, `{ error: { message, type, param, code } }` (openai-node `core/error.ts`). */
export function openAiErrorBody(status: number, message: string): unknown {
  return { error: { message, type: errorType(status), param: null, code: errorCode(status) } };
}

function errorType(status: number): string {
  if (status === 401) return "invalid_request_error";
  if (status === 429) return "requests";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

function errorCode(status: number): string | null {
  if (status === 401) return "invalid_api_key";
  if (status === 404) return "unknown_url";
  if (status === 504) return "timeout";
  return null;
}

/** OpenAI's own 429 shape: `type` names the limit (`requests`, `tokens`), `code` is `rate_limit_exceeded`. */
export function openAiRateLimitBody(limit: "requests" | "tokens", message: string): unknown {
  return { error: { message, type: limit, param: null, code: "rate_limit_exceeded" } };
}
