import path from "node:path";
import type { Readable, Writable } from "node:stream";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { errorMessage, WardenError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import type { Oversight } from "../core/oversight.js";
import { createOversightProxy, type TrafficEvent } from "./oversight-proxy.js";
import { StrictStdioServerTransport } from "./strict-stdio-transport.js";

const STDERR_TAIL_CHARS = 4096;

export interface StdioBridgeOptions {
  /** The name policies and records use for the upstream server. */
  serverName: string;
  command: string;
  args: string[];
  cwd?: string;
  /** Added to the SDK's minimal default environment (HOME, PATH, ...); nothing else is inherited. */
  env?: Record<string, string>;
  agentId: string;
  sessionId?: string;
  oversight: Oversight;
  /** The agent's side of the MCP channel; default `process.stdin`. */
  input?: Readable;
  /** Default `process.stdout`, which then must carry nothing but MCP messages. */
  output?: Writable;
  logger: Logger;
  /** Largest message accepted from the agent, in bytes; default 4 MiB. */
  maxMessageBytes?: number;
  onTraffic?: (event: TrafficEvent) => void;
}

export interface StdioBridge {
  /** Spawns the upstream server, then starts reading from the agent. Rejects if the server cannot be spawned. */
  start(): Promise<void>;
  close(): Promise<void>;
  /** Resolves when the bridge has stopped: the agent hung up, the upstream server exited, or `close()`. */
  closed: Promise<void>;
}

/**
 * Runs an MCP server as a child process and serves it to an agent over stdio, with every
 * action it takes decided by `oversight` first.
 *
 * @example
 * const bridge = createStdioBridge({
 *   serverName: "files", command: "mcp-server-filesystem", args: ["/srv/work"],
 *   agentId: "coder-1", oversight, logger,
 * });
 * await bridge.start();
 * await bridge.closed;
 */
export function createStdioBridge(options: StdioBridgeOptions): StdioBridge {
  const upstream = new StdioClientTransport({
    command: options.command,
    args: options.args,
    cwd: options.cwd,
    env: options.env,
    stderr: "pipe",
  });
  // The server's stderr is its log: kept out of the MCP channel, logged at debug, and its tail
  // repeated at error level if the server exits, since that is usually where it says why.
  let stderrTail = "";
  upstream.stderr?.on("data", (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    stderrTail = (stderrTail + text).slice(-STDERR_TAIL_CHARS);
    options.logger.debug({ server: options.serverName, stderr: text.trimEnd() }, "upstream stderr");
  });
  const agent = new StrictStdioServerTransport(
    options.input ?? process.stdin,
    options.output ?? process.stdout,
    {
      maxMessageBytes: options.maxMessageBytes,
    },
  );
  const proxy = createOversightProxy({
    serverName: options.serverName,
    workingDirectory: path.resolve(options.cwd ?? process.cwd()),
    agent,
    upstream,
    oversight: options.oversight,
    agentId: options.agentId,
    sessionId: options.sessionId,
    logger: options.logger,
    onTraffic: options.onTraffic,
  });
  const closed = proxy.closed.then(() => {
    if (proxy.closeCause === "upstream" && stderrTail.trim() !== "") {
      options.logger.error(
        { server: options.serverName, stderr: stderrTail.trimEnd() },
        "upstream stderr before it exited",
      );
    }
  });
  return {
    closed,
    close: () => proxy.close(),
    async start() {
      try {
        await proxy.start();
      } catch (error) {
        await proxy.close();
        throw new WardenError(
          "config-invalid",
          `could not start MCP server "${options.serverName}" (${options.command}): ${errorMessage(error)}`,
          { cause: error },
        );
      }
    },
  };
}
