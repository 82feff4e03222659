const deniedMarker = Symbol.for("warden.tool-call-denied");

/**
 * Thrown by a guarded tool when Warden denied the call (or could not decide it, which denies).
 * `ruleId` and `message` are what the constitution says; pass `message` back to the model so it
 * learns why, rather than retrying the same call.
 */
export class ToolCallDeniedError extends Error {
  readonly [deniedMarker] = true;
  override readonly name = "ToolCallDeniedError";

  constructor(
    readonly tool: string,
    readonly ruleId: string,
    readonly reason: string,
    /** The recorded call's id; absent when Warden could not be reached. */
    readonly callId?: string,
  ) {
    super(`[Warden] The tool call ${tool} was denied by rule "${ruleId}": ${reason}`);
  }

  static isInstance(error: unknown): error is ToolCallDeniedError {
    return (
      typeof error === "object" && error !== null && (error as Record<symbol, unknown>)[deniedMarker] === true
    );
  }
}

const unavailableMarker = Symbol.for("warden.sdk-unavailable");

/**
 * Warden answered something other than a decision (unreachable, bad token, bad request) or could
 * not record a result. The tool did not run, or its result is withheld: never an unrecorded action.
 */
export class WardenUnavailableError extends Error {
  readonly [unavailableMarker] = true;
  override readonly name = "WardenUnavailableError";

  constructor(
    message: string,
    /** The HTTP status Warden answered; 0 when it could not be reached. */
    readonly status: number,
  ) {
    super(message);
  }

  static isInstance(error: unknown): error is WardenUnavailableError {
    return (
      typeof error === "object" &&
      error !== null &&
      (error as Record<symbol, unknown>)[unavailableMarker] === true
    );
  }
}
