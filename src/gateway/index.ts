export { AgentTrafficLimits, type AgentUsageFacts } from "./agent-limits.js";
export {
  createGateway,
  type Gateway,
  type GatewayOptions,
  wardenTokenFromRequest,
} from "./create-gateway.js";
export { PENDING_APPROVAL_RULE, WARDEN_UNAVAILABLE_RULE } from "./decide-tool-call.js";
export type { UpstreamConfig, UpstreamTimeouts } from "./upstreams.js";
