import { createHash } from "node:crypto";
import type { StoredEvent } from "../../core/events.js";
import { toolDefinitionTexts, toolOutputTexts, toolResultTexts } from "../agent-texts.js";
import type { Detector, FindingData } from "../detector.js";
import type { ReplyText } from "../model-reply-text.js";
import { strongestTextFinding } from "../text-finding.js";
import { classifyToolPoisoning } from "./tool-poisoning-classifier.js";

/**
 * A `high` finding for instructions aimed at the agent in what tools put before the model: tool
 * definitions the agent sends to the model (`model-request` tools), tool outputs it hands back
 * (`model-request` tool messages) and MCP tool results (`tool-result`). A definition is reported
 * once per agent while the detector runs (every request repeats the same tools).
 */
export function createToolPoisoningDetector(): Detector {
  const reportedDefinitions = new Set<string>();
  const finding = (event: StoredEvent, texts: readonly ReplyText[], where: string) =>
    strongestTextFinding(event, texts, classifyToolPoisoning, (quote, text) => ({
      detector: "tool-poisoning",
      severity: "high",
      explanation: `instructions aimed at the agent in ${where} (${text.field}): "${quote}"`,
      ...("tool" in text ? { tool: text.tool } : {}),
    }));
  return {
    name: "tool-poisoning",
    stateful: true,
    eventTypes: ["model-request", "tool-result"],
    inspect(event: StoredEvent): FindingData[] {
      if (event.type === "tool-result") {
        return finding(event, toolResultTexts((event.data as { result?: unknown }).result), "a tool result");
      }
      const definitions = toolDefinitionTexts(event.data).filter((definition) => {
        const key = `${event.agentId}\n${createHash("sha256").update(definition.text).digest("hex")}`;
        if (reportedDefinitions.has(key)) return false;
        reportedDefinitions.add(key);
        return true;
      });
      return [
        ...finding(event, definitions, "a tool definition"),
        ...finding(event, toolOutputTexts(event.data), "a tool output sent to the model"),
      ];
    },
  };
}
