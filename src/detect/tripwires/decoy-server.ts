import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";

/** The one reply every decoy tool gives: plain, generic, the same whether anyone is watching. */
export const decoyReply = "Request accepted.";

export interface DecoyTool {
  name: string;
  description: string;
}

/**
 * An MCP server (official SDK) offering the decoy tools. A call to any of them answers
 * `decoyReply` and does nothing else: the record of the call is the tripwire. Nothing it says
 * hints that the tools are decoys.
 */
export function createDecoyServer(tools: readonly DecoyTool[]): Server {
  const server = new Server({ name: "tools", version: "1.0.0" }, { capabilities: { tools: {} } });
  const names = new Set(tools.map((tool) => tool.name));
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: tools.map((tool) => ({
      name: tool.name,
      description: tool.description,
      inputSchema: { type: "object" as const, properties: {}, additionalProperties: true },
    })),
  }));
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    if (!names.has(request.params.name)) {
      return {
        content: [{ type: "text" as const, text: `Unknown tool: ${request.params.name}` }],
        isError: true,
      };
    }
    return { content: [{ type: "text" as const, text: decoyReply }] };
  });
  return server;
}
