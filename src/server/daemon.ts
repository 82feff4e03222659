import { realpathSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ApprovalQueue } from "../approvals/approval-queue.js";
import { ReviewerAccounts } from "../approvals/reviewer-accounts.js";
import { WebhookNotifier } from "../approvals/webhook-notifier.js";
import type { WardenConfig } from "../core/config.js";
import { dataFiles } from "../core/data-dir.js";
import { WardenError } from "../core/errors.js";
import type { EventStore } from "../core/event-store.js";
import type { Logger } from "../core/logger.js";
import { createDefaultDetectors, startDetectionPipeline } from "../detect/index.js";
import { AgentTrafficLimits, createGateway, wardenTokenFromRequest } from "../gateway/index.js";
import { createMcpHttpHandler, type McpHttpHandler } from "../mcp/index.js";
import { loadConstitutionFile } from "../policy/load-constitution-file.js";
import { Checkpointer } from "../store/checkpointer.js";
import { createSecretRedactor } from "../store/redact-secrets.js";
import { applyRetention } from "../store/retention.js";
import { loadOrCreateKeys } from "../store/signing-keys.js";
import { SqliteEventStore } from "../store/sqlite/sqlite-event-store.js";
import { createClaimsDetector } from "../verify/index.js";
import { AgentTokens } from "./agent-tokens.js";
import { ApprovalInbox } from "./approval-inbox.js";
import { ChangeSetService } from "./change-set-service.js";
import { acquireDaemonLock, ensureDataDir, loadOrCreateOperatorToken } from "./daemon-files.js";
import { DashboardSessions } from "./dashboard-sessions.js";
import { EventTail } from "./event-tail.js";
import { startHttpListener } from "./http-listener.js";
import { createLogIntegrityCheck } from "./log-integrity.js";
import { OversightApi } from "./oversight-api.js";
import { OversightService } from "./oversight-service.js";
import { PolicyHolder } from "./policy-holder.js";
import { type RecordReportsRequest, recordReports } from "./record-reports.js";
import type { RpcHandlers } from "./rpc-socket-server.js";
import { startRpcSocketServer } from "./rpc-socket-server.js";
import { type PlantDecoysRequest, plantDecoysForSession } from "./sandbox-decoys.js";
import { SessionAuditor } from "./session-auditor.js";

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
  /**
   * Keep the record in PostgreSQL instead of `DATA/events.sqlite`: several replicas may share
   * one database, each writing its own hash chain (`chain`, default "main").
   */
  postgres?: { url: string; chain?: string };
  /** Export the record as OTLP traces to this collector (off the request path). */
  otlp?: { endpoint: string; protocol: "http/protobuf" | "http/json"; headers: Record<string, string> };
}

export interface Daemon {
  readonly socketPath: string;
  /** The HTTP listener's base URL, unless socket-only. */
  readonly httpUrl: string | null;
  /** The reviewer API's own listener, when `dashboard.listen` puts it apart from the gateway. */
  readonly dashboardUrl: string | null;
  readonly oversight: OversightService;
  /** The store the daemon owns (in-process users such as `warden eval run` append through it). */
  readonly store: EventStore;
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
    const redactSecrets = createSecretRedactor(keys.fingerprintKey);
    const storeFingerprint = (secret: string) =>
      (redactSecrets({ token: secret }) as { token: string }).token;
    const backingStore: EventStore = options.postgres
      ? await (await import("../store/postgres/postgres-event-store.js")).PostgresEventStore.open({
          url: options.postgres.url,
          ...(options.postgres.chain === undefined ? {} : { chain: options.postgres.chain }),
          redact: redactSecrets,
        })
      : new SqliteEventStore({ file: path.join(dataDir, dataFiles.store), redact: redactSecrets });
    cleanups.push(() => backingStore.close());
    // Every append, whichever listener it came through (socket, gateway, SDK, dashboard), counts
    // towards the next checkpoint.
    let noteAppended: (seq: number) => void = () => {};
    const store = observeAppends(backingStore, (seq) => noteAppended(seq));

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
    noteAppended = (seq) => checkpointer.noteAppended(seq);
    cleanups.push(() => checkpointer.stop());
    // Retention runs off the request path: at start and every six hours.
    const retentionDays = options.config?.retention?.days ?? 183;
    const runRetention = () =>
      applyRetention({ store, days: retentionDays, logger: logger.child({ component: "retention" }) }).catch(
        (error: unknown) => logger.error({ error: (error as Error).message }, "retention failed"),
      );
    void runRetention();
    const retentionTimer = setInterval(runRetention, 6 * 3_600_000);
    retentionTimer.unref();
    cleanups.push(() => clearInterval(retentionTimer));

    const agentTokens = new AgentTokens(dataDir);
    const approvalLimits = options.config?.approvals;
    const approvals = new ApprovalQueue({
      store,
      holdLimits: {
        perMinute: approvalLimits?.maxHoldsPerAgentPerMinute ?? 30,
        open: approvalLimits?.maxOpenHoldsPerAgent ?? 100,
      },
    });
    const reviewerAccounts = new ReviewerAccounts(dataDir);
    cleanups.push(() => approvals.expireAll());
    // Model traffic is counted for every agent (limits refuse only where configured); rules read
    // the counts as `agent.usage`, on MCP calls too.
    const traffic = new AgentTrafficLimits(options.config?.limits ?? { agents: {} });
    let detectionCaughtUp: () => Promise<void> = async () => {};
    const auditor = options.config?.auditor
      ? new SessionAuditor({
          store,
          config: options.config.auditor,
          upstreams: options.config.upstreams,
          rules: () => holder.current.ruleMessages ?? [],
          logger: logger.child({ component: "auditor" }),
        })
      : null;
    let remoteApprovals: import("./remote-approvals.js").RemoteApprovals | undefined;
    const oversight = new OversightService({
      store,
      logger,
      getPolicy: () => holder.current,
      approvals,
      agentUsage: (agentId) => traffic.usageOf(agentId),
      // Rules reading session.findings: what the detectors have recorded about the session, once
      // they have caught up with the events before the call (bounded by the service).
      findingsOf: async (sessionId) => {
        const findings = await store.read({ sessionId, types: ["finding"], limit: 100_000 });
        const severities = findings.map((event) => (event.data as { severity?: string }).severity);
        return {
          count: findings.length,
          critical: severities.filter((severity) => severity === "critical").length,
          high: severities.filter((severity) => severity === "high").length,
          detectors: [
            ...new Set(findings.map((event) => String((event.data as { detector?: string }).detector))),
          ],
        };
      },
      awaitDetectors: () => detectionCaughtUp(),
      ...(auditor === null
        ? {}
        : { auditGate: (request, auditRequest) => auditor.gate(request, auditRequest) }),
    });
    await oversight.restore();
    // Replicas on one PostgreSQL database share kill-switch uses and grants: every chain's, in
    // commit order, at start, then each as it commits.
    if (options.postgres) {
      const { PostgresEventStore, replicatedEventTypes } = await import(
        "../store/postgres/postgres-event-store.js"
      );
      if (backingStore instanceof PostgresEventStore) {
        await backingStore.subscribeReplicated((event) => oversight.applyReplicated(event));
        const { RemoteApprovals } = await import("./remote-approvals.js");
        remoteApprovals = new RemoteApprovals(
          backingStore,
          approvals,
          logger.child({ component: "replicas" }),
        );
        await remoteApprovals.start();
        for (let afterPosition = 0; ; ) {
          const events = await backingStore.readAllChains({
            types: [...replicatedEventTypes],
            afterPosition,
            limit: 1000,
          });
          if (events.length === 0) break;
          for (const event of events) await oversight.applyReplicated(event);
          afterPosition = events.at(-1)!.position;
        }
      }
    }
    const inbox = new ApprovalInbox({
      approvals,
      ...(remoteApprovals === undefined ? {} : { remote: remoteApprovals }),
      ...(options.postgres === undefined ? {} : { chain: options.postgres.chain ?? "main" }),
    });
    const changeSets = new ChangeSetService({ store, oversight, approvals, dataDir, logger });
    await changeSets.restore();
    // Detectors read committed events on their own schedule: never on the request path.
    // Decoys (the constitution's tripwires) follow the constitution as it is reloaded.
    const tripwiresOf = async () => {
      if (!options.policyPath) return null;
      const loaded = await loadConstitutionFile(options.policyPath);
      return loaded.ok ? (loaded.constitution.tripwires ?? null) : null;
    };
    let tripwires = await tripwiresOf();
    let tripwiresVersion = holder.current.version;
    const currentTripwires = () => {
      if (holder.current.version !== tripwiresVersion) {
        tripwiresVersion = holder.current.version;
        void tripwiresOf().then((loaded) => {
          tripwires = loaded;
        });
      }
      return tripwires;
    };
    const detection = await startDetectionPipeline({
      store,
      detectors: [
        ...createDefaultDetectors({
          tripwires: {
            tripwires: currentTripwires,
            fingerprint: storeFingerprint,
          },
          manifests: new Map(Object.entries(options.config?.detection?.manifests ?? {})),
        }),
        createClaimsDetector(),
      ],
      logger: logger.child({ component: "detect" }),
    });
    cleanups.push(() => detection.stop());
    detectionCaughtUp = () => detection.caughtUp();
    if (options.otlp) {
      const { startOtlpExporter } = await import("../export/otlp/otlp-exporter.js");
      const exporter = await startOtlpExporter({
        store,
        ...options.otlp,
        logger: logger.child({ component: "otlp" }),
        cursorFile: path.join(dataDir, "otlp-cursor.json"),
      });
      cleanups.push(() => exporter.stop());
    }
    // The dashboard's live stream, its summaries and webhooks follow the committed log.
    const tail = new EventTail({ store, logger: logger.child({ component: "tail" }) });
    const webhooks = new WebhookNotifier({
      targets: options.config?.notifications?.webhooks ?? [],
      logger: logger.child({ component: "webhooks" }),
    });
    // Only what happens from now on: the tail first reads the whole log, already notified before a restart.
    const notifyAfterSeq = (await store.head())?.seq ?? 0;
    tail.subscribe((events) => webhooks.notify(events.filter((event) => event.seq > notifyAfterSeq)));
    // A decoy touched is a critical finding; where the constitution says so, it halts that agent.
    tail.subscribe((events) => {
      if (currentTripwires()?.halt !== true) return;
      const halted = new Set<string>();
      for (const event of events) {
        if (event.seq <= notifyAfterSeq || event.type !== "finding") continue;
        const data = event.data as { detector?: string; severity?: string };
        if (data.detector !== "tripwires" || data.severity !== "critical" || halted.has(event.agentId))
          continue;
        // Halted already (by an earlier finding, or by a person): once is enough.
        if (oversight.killSwitchState().agents.some((halt) => halt.agentId === event.agentId)) continue;
        halted.add(event.agentId);
        void oversight
          .applyKillSwitch({
            engaged: true,
            scope: "agent",
            target: event.agentId,
            // What the agent is told: nothing about the decoy.
            reason: "halted pending review",
            by: "warden:tripwires",
          })
          .catch((error: unknown) =>
            logger.error({ error: (error as Error).message }, "tripwire halt failed"),
          );
      }
    });
    cleanups.push(() => webhooks.close());
    if (auditor !== null) {
      // Sessions are followed from the whole log (reviews already recorded included), so a
      // restart neither repeats a review nor misses a session that went quiet meanwhile.
      tail.subscribe((events) => auditor.observe(events));
      auditor.start();
      cleanups.push(() => auditor.stop());
    }

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
      // The operator's inbox (`warden approvals`): every replica's held calls, each marked with
      // the chain holding it; a decision on another replica's call goes to that replica.
      "approvals-list": async () =>
        (await inbox.list()).map(({ call, chain, remote }) => ({
          ...call,
          ...(chain === undefined ? {} : { chain }),
          remote,
        })),
      "approvals-decide": async (params) => {
        const { approvalId, ...decision } = params as { approvalId: string } & Parameters<
          ApprovalQueue["decide"]
        >[1];
        return inbox.decide(await inbox.held(approvalId), decision);
      },
      "tools-approve": async (params) => {
        const { server, tool, reviewer } = params as { server: string; tool: string; reviewer: string };
        return { definitionHash: await oversight.approveTool(server, tool, reviewer) };
      },
      "kill-switch": async (params) => {
        const { engaged, reason, reviewer, scope, target } = params as {
          engaged: boolean;
          reason: string;
          reviewer: string;
          scope: "all" | "agent" | "session";
          target?: string;
        };
        return oversight.applyKillSwitch({ engaged, reason, by: reviewer, scope, target });
      },
      "users-add": async (params) => {
        const { name, role, password } = params as {
          name: string;
          role: "viewer" | "reviewer" | "admin";
          password: string | null;
        };
        return { token: await reviewerAccounts.add(name, role, password) };
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
      "record-reports": async (params) => {
        // The pipeline first reaches every event before the request, so what it reports about
        // them is in the log and not written a second time.
        await detection.caughtUp();
        return afterAppend(recordReports(store, params as RecordReportsRequest));
      },
      "sandbox-decoys": (params) =>
        plantDecoysForSession(
          {
            store,
            dataDir,
            tripwires: currentTripwires,
            fingerprint: storeFingerprint,
          },
          params as PlantDecoysRequest,
        ),
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
    let dashboardUrl: string | null = null;
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
        killSwitch: { subscribe: (listener) => oversight.onHalt(listener) },
      });
      cleanups.push(() => gateway.close());
      const api = new OversightApi({
        accounts: reviewerAccounts,
        sessions: new DashboardSessions({
          idleMs: (options.config?.dashboard?.sessionIdleMinutes ?? 30) * 60_000,
        }),
        agentForToken: (token) => agentTokens.agentFor(token),
        approvals,
        oversight,
        tail,
        store,
        policy: { path: options.policyPath, version: () => holder.current.version },
        logIntegrity: createLogIntegrityCheck({ dataDir, witness: options.witness, store }),
        inbox,
        webDir: fileURLToPath(new URL("../../web/", import.meta.url)),
        logger,
      });
      const apart = options.config?.dashboard?.listen;
      if (apart) {
        const dashboardListener = await startHttpListener({
          api,
          host: apart.host,
          port: apart.port,
          ...(apart.allowedHosts ? { allowedHosts: apart.allowedHosts } : {}),
          mcpServers: new Map(),
          logger,
        });
        cleanups.push(() => dashboardListener.close());
        dashboardUrl = dashboardListener.url;
      }
      const listener = await startHttpListener({
        ...(apart ? {} : { api }),
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

    tail.start();
    cleanups.push(() => tail.stop());

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
      dashboardUrl,
      oversight,
      store,
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

/** The store, calling `onAppended` with each appended event's seq. */
function observeAppends(store: EventStore, onAppended: (seq: number) => void): EventStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === "append")
        return async (...args: Parameters<EventStore["append"]>) => {
          const event = await target.append(...args);
          onAppended(event.seq);
          return event;
        };
      const value = Reflect.get(target, property, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
