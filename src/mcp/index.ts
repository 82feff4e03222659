export { createMcpHttpHandler, type McpHttpHandler, type McpHttpHandlerOptions } from "./http-handler.js";
export {
  CALL_DENIED_ERROR_CODE,
  createOversightProxy,
  type OversightProxy,
  type OversightProxyOptions,
  SESSION_META_KEY,
  type TrafficEvent,
  type TrafficSource,
  WARDEN_UNAVAILABLE_RULE,
} from "./oversight-proxy.js";
export { createStdioBridge, type StdioBridge, type StdioBridgeOptions } from "./stdio-bridge.js";
export { DEFAULT_MAX_MESSAGE_BYTES, StrictStdioServerTransport } from "./strict-stdio-transport.js";
