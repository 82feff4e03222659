/** `*` matches any run of characters; everything else is literal. */
function globPattern(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`);
}

/** Whether a call of `server`/`tool` is in a manifest: entries are `SERVER/TOOL` or `TOOL` (any server), with `*` globs. */
export type ManifestCheck = (server: string, tool: string) => boolean;

/**
 * Compiles per-agent tool manifests, keyed by agent id or a glob of ids. An agent's manifest is
 * its own entry, else the first glob (in the order given) its id matches; an agent no entry
 * matches has no manifest, and nothing is outside it.
 *
 * @example
 * const manifestOf = compileToolManifests(new Map([["coder-*", ["files/read_file", "memory/*", "search"]]]));
 * manifestOf("coder-1")?.("files", "write_file"); // false: outside the manifest
 */
export function compileToolManifests(
  manifests: ReadonlyMap<string, readonly string[]>,
): (agentId: string) => ManifestCheck | undefined {
  const compiled = [...manifests].map(([agent, entries]) => {
    const patterns = entries.map((entry) => {
      const slash = entry.indexOf("/");
      return slash < 0
        ? { server: null, tool: globPattern(entry) }
        : { server: globPattern(entry.slice(0, slash)), tool: globPattern(entry.slice(slash + 1)) };
    });
    const check: ManifestCheck = (server, tool) =>
      patterns.some((pattern) => pattern.tool.test(tool) && (pattern.server?.test(server) ?? true));
    return { agent, agentPattern: agent.includes("*") ? globPattern(agent) : null, check };
  });
  const exact = new Map(
    compiled.filter((entry) => entry.agentPattern === null).map((entry) => [entry.agent, entry]),
  );
  const globs = compiled.filter((entry) => entry.agentPattern !== null);
  return (agentId) => (exact.get(agentId) ?? globs.find((entry) => entry.agentPattern!.test(agentId)))?.check;
}
