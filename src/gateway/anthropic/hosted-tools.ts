import { isRecord } from "../gateway-api.js";

/**
 * Client tools (custom tools and the schema-less `bash_*`, `text_editor_*`, `computer_*`,
 * `memory_*` tools) are run by the agent, so their calls come back through Warden as
 * `tool_use` blocks. Server tools (`web_search_*`, `web_fetch_*`, `code_execution_*`, tool
 * search, MCP toolsets, and types added later) and `mcp_servers` run at the provider, out of
 * Warden's sight, so they are refused.
 */
const clientToolType = /^(custom|bash_\d+|text_editor_\d+|computer_\d+|memory_\d+)$/;

export function anthropicToolRefusal(body: Record<string, unknown>): string | null {
  const tools = Array.isArray(body.tools) ? body.tools : [];
  for (const tool of tools) {
    if (!isRecord(tool)) continue;
    if (tool.type === undefined || tool.type === null) continue;
    if (typeof tool.type !== "string" || !clientToolType.test(tool.type)) {
      return `Warden refuses the server tool type "${String(tool.type)}": it would run at the provider where Warden cannot oversee it.`;
    }
  }
  const servers = body.mcp_servers;
  if (servers !== undefined && servers !== null && !(Array.isArray(servers) && servers.length === 0)) {
    return "Warden refuses mcp_servers: the provider would call those MCP servers where Warden cannot oversee it. Connect MCP servers through Warden's MCP proxy instead.";
  }
  return null;
}
