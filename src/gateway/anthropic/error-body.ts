/** Anthropic's error shape, `{ type: "error", error: { type, message } }`, types per "HTTP errors" in the API docs. */
export function anthropicErrorBody(status: number, message: string): unknown {
  return { type: "error", error: { type: errorType(status), message } };
}

function errorType(status: number): string {
  switch (status) {
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 504:
      return "timeout_error";
    case 529:
      return "overloaded_error";
    default:
      return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

/** Anthropic's 429: `rate_limit_error` whichever limit was reached. */
export function anthropicRateLimitBody(_limit: "requests" | "tokens", message: string): unknown {
  return anthropicErrorBody(429, message);
}
