import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { collectPathCandidates, type PathCandidateOptions } from "./path-candidates.js";
import { PhysicalPathResolver } from "./physical-path.js";
import {
  isProcessStoppingTool,
  mentionsPid,
  stopsWardenProcess,
  type WardenProcesses,
} from "./process-stop.js";
import { ProtectedLocations } from "./protected-locations.js";

export interface BuiltinRuleOptions {
  /** Warden's data directory: the store, keys, socket, pid file. */
  dataDir: string;
  /** Further files no agent may touch: the constitution, the config file. */
  protectedFiles?: readonly string[];
  /** The upstream server's working directory, against which relative paths in arguments resolve. Default: the current directory. */
  workspaceRoot?: string;
  /** Warden's other processes (daemon, MCP bridges). The current process is always included. */
  wardenPids?: readonly number[];
  /** Where `~` points. Default: the current user's home directory. */
  homeDirectory?: string;
  /** What `$NAME` in a command expands to. Default: this process's environment. */
  environment?: Readonly<Record<string, string | undefined>>;
}

export const builtinRuleIds = {
  wardenFiles: "builtin:protect-warden-files",
  mcpConfig: "builtin:protect-mcp-config",
  wardenProcess: "builtin:protect-warden-process",
} as const;

/** Bump when what the built-in rules protect changes, so the policy version changes with it. */
const builtinRulesRevision = 1;

const mcpConfigDirectories = new Set([".cursor", ".vscode", ".claude"]);
const mcpConfigFiles = new Set([".mcp.json", ".claude.json", "claude_desktop_config.json"]);

export interface BuiltinViolation {
  ruleId: string;
  reason: string;
}

export interface BuiltinCall {
  /** The protocol method: for `tools/call` the name is a tool name, otherwise a URI or name to examine. */
  method: string;
  name: string;
  arguments: unknown;
  /** Where the upstream server resolves relative paths; default `workspaceRoot`. Set by the proxy, never the agent. */
  workingDirectory?: string | undefined;
}

export interface BuiltinRules {
  /** What the rules protect, for the policy version. */
  readonly fingerprint: unknown;
  /** The rules this call breaks, in rule order. */
  check(call: BuiltinCall): BuiltinViolation[];
}

/**
 * Warden's non-negotiable rules. They run before the constitution, always deny, are never
 * shadowed, and no rule can override them: an agent must not be able to read or alter its own
 * record, constitution, keys or configuration, rewire the MCP configuration through which it
 * reaches Warden, or stop Warden.
 *
 * They read every string in the call (arguments deep, object keys, and the name unless it is a
 * tool's name, since for resources/read it is a URI) because a path or command can hide anywhere. This is a layer of
 * defence, not the boundary: running Warden as its own user is.
 */
export function createBuiltinRules(options: BuiltinRuleOptions): BuiltinRules {
  const defaultWorkspaceRoot = path.resolve(options.workspaceRoot ?? process.cwd());
  const homeDirectory = path.resolve(options.homeDirectory ?? homedir());
  const protectedPaths = [options.dataDir, ...(options.protectedFiles ?? [])].map((item) =>
    path.resolve(item),
  );
  // Per working directory: what counts as an everyday ancestor, and its real path (resolved
  // once: the working directory is where the upstream server runs, not something a call moves).
  const workspaces = new Map<string, { root: string; physicalRoot: string; locations: ProtectedLocations }>();
  const workspaceFor = (workingDirectory: string | undefined) => {
    const root = workingDirectory ? path.resolve(workingDirectory) : defaultWorkspaceRoot;
    let workspace = workspaces.get(root);
    if (!workspace) {
      if (workspaces.size >= 64) workspaces.clear();
      workspace = {
        root,
        physicalRoot: new PhysicalPathResolver().resolve(root),
        locations: new ProtectedLocations(protectedPaths, [homeDirectory, root]),
      };
      workspaces.set(root, workspace);
    }
    return workspace;
  };
  const candidateOptions: PathCandidateOptions = {
    homeDirectory,
    environment: options.environment ?? process.env,
  };
  const processes = describeWardenProcesses([process.pid, ...(options.wardenPids ?? [])]);

  return {
    fingerprint: {
      revision: builtinRulesRevision,
      rules: Object.values(builtinRuleIds),
      protectedPaths: [...protectedPaths].sort(),
    },
    check(call) {
      const { strings, numbers } = collectValues(call);
      const violations: BuiltinViolation[] = [];

      const candidates = new Set<string>();
      for (const text of strings) collectPathCandidates(text, candidateOptions, candidates);
      const { root: workspaceRoot, physicalRoot, locations } = workspaceFor(call.workingDirectory);
      const resolver = new PhysicalPathResolver(physicalRoot);
      let wardenFile: string | undefined;
      let mcpConfig: string | undefined;
      for (const candidate of candidates) {
        if (wardenFile !== undefined && mcpConfig !== undefined) break;
        const lexical = path.resolve(workspaceRoot, candidate);
        const physical = resolver.resolve(candidate);
        if (wardenFile === undefined && (locations.covers(lexical) || locations.covers(physical))) {
          wardenFile = candidate;
        }
        if (mcpConfig === undefined && (isMcpConfig(lexical) || isMcpConfig(physical))) mcpConfig = candidate;
      }
      if (wardenFile !== undefined) {
        violations.push({
          ruleId: builtinRuleIds.wardenFiles,
          reason:
            `This call refers to ${quote(wardenFile)}, which is part of Warden's oversight of this session ` +
            "(its record, constitution, keys or configuration). Agents may not read or change it, directly or " +
            "through links, so the call was not made. Continue your task without it.",
        });
      }
      if (mcpConfig !== undefined) {
        violations.push({
          ruleId: builtinRuleIds.mcpConfig,
          reason:
            `This call refers to ${quote(mcpConfig)}, an MCP client configuration: the route by which your ` +
            "tools reach Warden's oversight. Agents may not read or change it, so the call was not made. " +
            "Continue your task without it.",
        });
      }

      const stopsWarden =
        strings.some((text) => stopsWardenProcess(text, processes)) ||
        (isProcessStoppingTool(call.name) &&
          (numbers.some((value) => processes.pids.has(value)) ||
            strings.some((text) => mentionsPid(text, processes.pids) || /warden/i.test(text))));
      if (stopsWarden) {
        violations.push({
          ruleId: builtinRuleIds.wardenProcess,
          reason:
            "This call would stop or signal a process of Warden, the oversight layer of this session. " +
            "Agents may not stop, signal or restart it, so the call was not made. Continue your task without it.",
        });
      }
      return violations;
    },
  };
}

function isMcpConfig(absolutePath: string): boolean {
  const segments = absolutePath.split("/");
  return segments.some((segment) => mcpConfigDirectories.has(segment) || mcpConfigFiles.has(segment));
}

/**
 * Every string (values, object keys) and number in a call, however deeply nested, and the name
 * when it is not a tool name. A tool name only selects one of the server's own tools; it is
 * never opened, so examining it would cost a file-system lookup for nothing.
 */
function collectValues(call: BuiltinCall): { strings: string[]; numbers: number[] } {
  const strings: string[] = call.method === "tools/call" ? [] : [call.name];
  const numbers: number[] = [];
  // An explicit stack: arguments come from the agent and may nest deeper than the call stack.
  const pending: unknown[] = [call.arguments];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === "string") strings.push(value);
    else if (typeof value === "number") numbers.push(value);
    else if (Array.isArray(value)) for (const item of value) pending.push(item);
    else if (typeof value === "object" && value !== null) {
      for (const [key, item] of Object.entries(value)) {
        strings.push(key);
        pending.push(item);
      }
    }
  }
  return { strings, numbers };
}

function describeWardenProcesses(pids: readonly number[]): WardenProcesses {
  const names = new Set(["warden"]);
  const commandLines = new Set<string>();
  for (const pid of pids) {
    // /proc is Linux's; elsewhere only this process's own identity is known.
    const name = readProcFile(pid, "comm")?.trim();
    if (name) names.add(name);
    const commandLine = readProcFile(pid, "cmdline")?.split("\0").join(" ").trim();
    if (commandLine) commandLines.add(commandLine);
  }
  names.add(path.basename(process.execPath));
  commandLines.add(process.argv.join(" "));
  return { pids: new Set(pids), names: [...names], commandLines: [...commandLines] };
}

function readProcFile(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return undefined;
  }
}

function quote(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}...` : text);
}
