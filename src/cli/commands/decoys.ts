import type { Command } from "commander";

export function registerDecoys(program: Command): void {
  program
    .command("decoys")
    .description(
      "serve the constitution's decoy tools (tripwires.tools) as an MCP server on stdio; a call to one is a critical finding",
    )
    .requiredOption("--constitution <file>", "the constitution whose tripwires.tools to serve")
    .addHelpText(
      "after",
      [
        "",
        "Put it behind `warden mcp` like any upstream server, so its calls are decided and recorded.",
        "",
        "Example:",
        "  warden mcp --constitution policy.yaml -- warden decoys --constitution policy.yaml",
        "Every decoy answers with the same plain reply and does nothing; the record of the call is",
        "what the tripwires detector reports (severity critical).",
      ].join("\n"),
    )
    .action(async (options: { constitution: string }) => {
      const { serveDecoys } = await import("./decoys-action.js");
      await serveDecoys(options.constitution);
    });
}
