/**
 * What the proxy does with each MCP method (spec revision 2025-11-25), per direction.
 * Anything not listed is refused with -32601 and never forwarded: a method Warden does not
 * know is a method it cannot oversee.
 *
 * - `decide`: an action the other side takes on the sender's behalf; it goes through
 *   `Oversight.decideToolCall` before it is forwarded, and its result is recorded before it is
 *   returned.
 * - `pass`: lifecycle, discovery and subscriptions; forwarded as is (observable via `onTraffic`).
 *   `completion/complete` is here: it only suggests argument values and takes no action.
 *
 * `tasks/*` is absent on purpose: a task-augmented call returns before its result exists and the
 * result arrives later through `tasks/result`, past the point where it would be recorded. The
 * proxy removes the `tasks` capability from both sides during `initialize` so neither side
 * expects it.
 */
export type MethodHandling = "decide" | "pass";

export const agentRequests: ReadonlyMap<string, MethodHandling> = new Map([
  ["tools/call", "decide"],
  ["resources/read", "decide"],
  ["prompts/get", "decide"],
  ["initialize", "pass"],
  ["ping", "pass"],
  ["tools/list", "pass"],
  ["resources/list", "pass"],
  ["resources/templates/list", "pass"],
  ["resources/subscribe", "pass"],
  ["resources/unsubscribe", "pass"],
  ["prompts/list", "pass"],
  ["completion/complete", "pass"],
  ["logging/setLevel", "pass"],
]);

export const upstreamRequests: ReadonlyMap<string, MethodHandling> = new Map([
  ["sampling/createMessage", "decide"],
  ["elicitation/create", "decide"],
  ["ping", "pass"],
  ["roots/list", "pass"],
]);

/** `notifications/cancelled` is handled separately: its request id is translated. */
export const agentNotifications: ReadonlySet<string> = new Set([
  "notifications/initialized",
  "notifications/progress",
  "notifications/roots/list_changed",
]);

export const upstreamNotifications: ReadonlySet<string> = new Set([
  "notifications/progress",
  "notifications/message",
  "notifications/resources/updated",
  "notifications/resources/list_changed",
  "notifications/tools/list_changed",
  "notifications/prompts/list_changed",
  "notifications/elicitation/complete",
]);
