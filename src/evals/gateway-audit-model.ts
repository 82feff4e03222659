import type { AuditModel } from "../auditor/audit-model.js";
import { callModel, type ModelEndpoint, type RetryPolicy, requestBody } from "./model-client.js";

/** Room for the verdict JSON with its quotes and explanation. */
const auditorMaxTokens = 2048;

/**
 * An auditor model reached through Warden's gateway like the model under evaluation (either
 * wire format, the same retries), so its calls are recorded too, in a session of their own.
 */
export function gatewayAuditModel(
  endpoint: ModelEndpoint,
  options: { sessionId: string; retry?: RetryPolicy },
): AuditModel {
  return {
    name: endpoint.model,
    async complete(system, user) {
      const body = requestBody(endpoint, {
        system,
        messages: [{ role: "user", content: user }],
        tools: [],
        maxTokens: auditorMaxTokens,
      });
      const { reply } = await callModel(endpoint, body, {
        sessionId: options.sessionId,
        ...(options.retry ? { retry: options.retry } : {}),
      });
      return reply.content;
    },
  };
}
