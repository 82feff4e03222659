/**
 * What an agent imports: `import { WardenClient } from "warden/sdk"`. No native dependencies.
 */
export { ToolCallDeniedError, WardenUnavailableError } from "./sdk-errors.js";
export {
  type GuardOptions,
  type ToolDecision,
  WardenClient,
  type WardenClientOptions,
} from "./warden-client.js";
