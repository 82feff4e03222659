import { isRecord } from "../gateway-api.js";

/**
 * Tools the agent itself runs (`function`) are the only kind Warden can decide. Every other
 * tool type (`mcp`, `code_interpreter`, `web_search*`, `file_search`, `computer_use*`,
 * `image_generation`, `local_shell`, and types added later) would run out of Warden's sight or
 * produce calls it does not intercept, so it is refused: unknown types land on the safe side.
 */
export function openAiToolRefusal(body: Record<string, unknown>): string | null {
  const tools = Array.isArray(body.tools) ? body.tools : [];
  for (const tool of tools) {
    const type = isRecord(tool) ? tool.type : undefined;
    if (type !== "function") {
      return `Warden refuses tools of type "${String(type)}": they would run where Warden cannot oversee them. Only "function" tools are allowed through the gateway.`;
    }
  }
  if (body.web_search_options !== undefined && body.web_search_options !== null) {
    return "Warden refuses web_search_options: provider-hosted search would run where Warden cannot oversee it.";
  }
  return null;
}
