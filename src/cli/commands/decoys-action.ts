import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { WardenError } from "../../core/errors.js";
import { createDecoyServer } from "../../detect/tripwires/decoy-server.js";
import { loadConstitutionFile } from "../../policy/load-constitution-file.js";

export async function serveDecoys(constitutionPath: string): Promise<void> {
  const loaded = await loadConstitutionFile(constitutionPath);
  if (!loaded.ok) throw new WardenError("policy-invalid", loaded.problems.join("\n"));
  const server = createDecoyServer(loaded.constitution.tripwires?.tools ?? []);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    process.stdin.once("end", () => resolve());
  });
  await server.connect(transport);
  await closed;
}
