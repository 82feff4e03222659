import { realpathSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import path from "node:path";
import { ApprovalQueue } from "../approvals/approval-queue.js";
import type { WardenConfig } from "../core/config.js";
import { dataFiles } from "../core/data-dir.js";
import { WardenError } from "../core/errors.js";
import { newSpanId, newTraceId } from "../core/ids.js";
import type { Logger } from "../core/logger.js";
import { createDefaultDetectors, startDetectionPipeline } from "../detect/index.js";
import { AgentTrafficLimits, createGateway, wardenTokenFromRequest } from "../gateway/index.js";
import { createMcpHttpHandler, type McpHttpHandler } from "../mcp/index.js";
import { Checkpointer } from "../store/checkpointer.js";
import { createSecretRedactor } from "../store/redact-secrets.js";
import { loadOrCreateKeys } from "../store/signing-keys.js";
import { SqliteEventStore } from "../store/sqlite/sqlite-event-store.js";
import { AgentTokens } from "./agent-tokens.js";
import { ChangeSetService } from "./change-set-service.js";
import { acquireDaemonLock, ensureDataDir, loadOrCreateOperatorToken } from "./daemon-files.js";
import { startHttpListener } from "./http-listener.js";
import { OversightService } from "./oversight-service.js";
import { PolicyHolder } from "./policy-holder.js";
import type { RpcHandlers } from "./rpc-socket-server.js";
import { startRpcSocketServer } from "./rpc-socket-server.js";

export interface DaemonOptions {
  dataDir: string;
  policyPath: string | null;
  configPath?: string | null;
  config?: WardenConfig | null;
  /** Listen only on the local socket (no HTTP port): what `warden mcp` starts. */
  socketOnly?: boolean;
  witness?: string;
  logger: Logger;
  checkpointEveryEvents?: number;
  checkpointEveryMilliseconds?: number;
}

export interface Daemon {
  readonly socketPath: string;
  /** The HTTP listener's base URL, unless socket-only. */
  readonly httpUrl: string | null;
  readonly oversight: OversightService;
  /** Resolves when the daemon has stopped (after `close` or a `shutdown` request). */
  readonly stopped: Promise<void>;
  close(): Promise<void>;
}

/**
 * `warden up`: the only process that opens the store and holds the signing key. Everything
 * else reaches the record through it.
 */
export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const { dataDir, logger } = options;
  ensureDataDir(dataDir);
  const releaseLock = acquireDaemonLock(dataDir);
  const cleanups: (() => Promise<void> | void)[] = [releaseLock];
  const runCleanups = async () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        logger.error({ error: (error as Error).message }, "error while stopping");
      }
    }
  };
  try {
    const keys = loadOrCreateKeys(dataDir);
    const operatorToken = loadOrCreateOperatorToken(dataDir);
    const store = new SqliteEventStore({
      file: path.join(dataDir, dataFiles.store),
      redact: createSecretRedactor(keys.fingerprintKey),
    });
    cleanups.push(() => store.close());

    const protectedFiles = [options.policyPath, options.configPath].filter((file): file is string =>
      Boolean(file),
    );
    const { holder, problems } = await PolicyHolder.load({
      path: options.policyPath,
      builtins: { dataDir: realpathSync(dataDir), protectedFiles, wardenPids: [process.pid] },
      store,
      logger,
    });
    if (problems.length > 0) {
      await store.flush();
      throw new WardenError(
        "policy-invalid",
        `the constitution ${options.policyPath} has problems:\n${problems.join("\n")}`,
      );
    }
    holder.watch();
    cleanups.push(() => holder.close());

    const checkpointer = new Checkpointer({
      store,
      keys,
      logger,
      everyEvents: options.checkpointEveryEvents ?? 1000,
      everyMilliseconds: options.checkpointEveryMilliseconds ?? 5000,
      ...(options.witness ? { witness: options.witness } : {}),
    });
    checkpointer.start();
    cleanups.push(() => checkpointer.stop());

    const agentTokens = new AgentTokens(dataDir);
    const approvals = new ApprovalQueue({ store });
    cleanups.push(() => approvals.expireAll());
    // Model traffic is counted for every agent (limits refuse only where configured); rules read
    // the counts as `agent.usage`, on MCP calls too.
    const traffic = new AgentTrafficLimits(options.config?.limits ?? { agents: {} });
    const oversight = new OversightService({
      store,
      logger,
      getPolicy: () => holder.current,
      approvals,
      agentUsage: (agentId) => traffic.usageOf(agentId),
    });
    await oversight.restore();
    const changeSets = new ChangeSetService({ store, oversight, approvals, dataDir, logger });
    await changeSets.restore();
    // Detectors read committed events on their own schedule: never on the request path.
    const detection = await startDetectionPipeline({
      store,
      detectors: createDefaultDetectors(),
      logger: logger.child({ component: "detect" }),
    });
    cleanups.push(() => detection.stop());

    let requestShutdown: () => void = () => {};
    const shutdownRequested = new Promise<void>((resolve) => {
      requestShutdown = resolve;
    });
    const afterAppend = async <T>(work: Promise<T>): Promise<T> => {
      const result = await work;
      const head = await store.head();
      if (head) checkpointer.noteAppended(head.seq);
      return result;
    };
    // Filled in once the HTTP listener is up: `warden run` points agents at it.
    const listening: { url: string | null; mcpServers: string[] } = { url: null, mcpServers: [] };
    const handlers: RpcHandlers = {
      status: async () => ({
        httpUrl: listening.url,
        mcpServers: listening.mcpServers,
        pid: process.pid,
        dataDir,
        head: await store.head(),
        policyVersion: holder.current.version,
        policyPath: options.policyPath,
        pendingApprovals: approvals.list().length,
      }),
      "decide-tool-call": (params) => afterAppend(oversight.decideToolCall(params as never)),
      "record-tool-result": (params) => {
        const { identity, result } = params as { identity: never; result: never };
        return afterAppend(oversight.recordToolResult(identity, result));
      },
      "check-tool-definitions": (params) => {
        const { identity, server, tools } = params as { identity: never; server: string; tools: never };
        return oversight.checkToolDefinitions(identity, server, tools);
      },
      "approvals-list": async () => approvals.list(),
      "approvals-decide": (params) => {
        const { approvalId, ...decision } = params as { approvalId: string } & Parameters<
          ApprovalQueue["decide"]
        >[1];
        return approvals.decide(approvalId, decision);
      },
      "tools-approve": async (params) => {
        const { server, tool, reviewer } = params as { server: string; tool: string; reviewer: string };
        return { definitionHash: await oversight.approveTool(server, tool, reviewer) };
      },
      "kill-switch": async (params) => {
        const { engaged, reason, reviewer } = params as {
          engaged: boolean;
          reason: string;
          reviewer: string;
        };
        oversight.setKillSwitch(engaged, reason);
        await store.append({
          type: "kill-switch",
          agentId: "warden",
          sessionId: "warden",
          traceId: newTraceId(),
          spanId: newSpanId(),
          data: { engaged, by: reviewer, reason },
        });
        return { engaged };
      },
      "tokens-create": async (params) => {
        const { agentId } = params as { agentId: string };
        return { token: agentTokens.create(agentId) };
      },
      shutdown: async () => {
        setImmediate(requestShutdown);
        return { stopping: true };
      },
      "sandbox-change-set": (params) =>
        afterAppend(changeSets.submit(params as Parameters<ChangeSetService["submit"]>[0])),
      "changes-list": async () => changeSets.list(),
      "changes-show": async (params) => changeSets.show((params as { changeSetId: string }).changeSetId),
      "changes-apply": (params) => {
        const { changeSetId, reviewer } = params as { changeSetId: string; reviewer: string };
        return afterAppend(changeSets.apply(changeSetId, reviewer));
      },
      "changes-discard": (params) => {
        const { changeSetId, reviewer, reason } = params as {
          changeSetId: string;
          reviewer: string;
          reason: string;
        };
        return afterAppend(changeSets.discard(changeSetId, reviewer, reason));
      },
    };
    const socketPath = path.join(dataDir, dataFiles.socket);
    const rpcServer = await startRpcSocketServer({ socketPath, operatorToken, handlers, logger });
    cleanups.push(() => rpcServer.close());

    let httpUrl: string | null = null;
    if (!options.socketOnly) {
      const listen = options.config?.listen ?? { host: "127.0.0.1", port: 7400 };
      const agentOf = (request: IncomingMessage) => {
        const token = wardenTokenFromRequest(request);
        const agentId = token ? agentTokens.agentFor(token) : null;
        return agentId ? { agentId } : null;
      };
      const mcpServers = new Map<string, McpHttpHandler>();
      for (const [name, server] of Object.entries(options.config?.mcpServers ?? {})) {
        const handler = createMcpHttpHandler({
          serverName: name,
          command: server.command,
          args: server.args,
          ...(server.cwd ? { cwd: server.cwd } : {}),
          ...(server.env ? { env: server.env } : {}),
          oversight,
          logger,
          authenticate: (request) => agentOf(request),
        });
        mcpServers.set(name, handler);
        cleanups.push(() => handler.close());
      }
      const gateway = createGateway({
        upstreams: options.config?.upstreams ?? [],
        oversight,
        record: (input, appendOptions) => store.append(input, appendOptions),
        authenticate: agentOf,
        logger,
        mcpExecutedTools: options.config?.gateway?.mcpExecutedTools ?? [],
        traffic,
      });
      cleanups.push(() => gateway.close());
      const listener = await startHttpListener({
        gateway,
        host: listen.host,
        port: listen.port,
        ...(listen.allowedHosts ? { allowedHosts: listen.allowedHosts } : {}),
        mcpServers,
        logger,
      });
      cleanups.push(() => listener.close());
      httpUrl = listener.url;
      listening.url = listener.url;
      listening.mcpServers = [...mcpServers.keys()];
    }

    let stopping: Promise<void> | null = null;
    const close = () => {
      stopping ??= runCleanups().then(() => logger.info({ dataDir }, "warden daemon stopped"));
      return stopping;
    };
    const stopped = shutdownRequested.then(close);
    logger.info(
      { dataDir, socketPath, httpUrl, policyVersion: holder.current.version },
      "warden daemon started",
    );
    return {
      socketPath,
      httpUrl,
      oversight,
      stopped,
      close: async () => {
        requestShutdown();
        await stopped;
      },
    };
  } catch (error) {
    await runCleanups();
    throw error;
  }
}
