import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import { z } from "zod";
import type { ApprovalQueue, HeldCall } from "../approvals/approval-queue.js";
import {
  type ReviewerAccount,
  type ReviewerAccounts,
  type ReviewerRole,
  roleAtLeast,
} from "../approvals/reviewer-accounts.js";
import { canonicalJson } from "../core/canonical-json.js";
import { errorMessage, toWireError, WardenError } from "../core/errors.js";
import type { EventStore } from "../core/event-store.js";
import { type EventType, isEventType, type StoredEvent } from "../core/events.js";
import type { Logger } from "../core/logger.js";
import { parseStrictJson } from "../core/strict-json.js";
import { parseConstitution } from "../policy/index.js";
import type { ApprovalInbox, InboxEntry } from "./approval-inbox.js";
import {
  type DashboardSession,
  DashboardSessions,
  LoginThrottle,
  sessionCookieName,
} from "./dashboard-sessions.js";
import type { EventTail } from "./event-tail.js";
import type { OversightService } from "./oversight-service.js";

/** Who made a request, decided before anything is looked up. */
type Principal =
  | { kind: "reviewer"; account: ReviewerAccount; session: DashboardSession | null }
  | { kind: "agent" }
  | { kind: "anonymous" };

interface RouteContext {
  request: IncomingMessage;
  response: ServerResponse;
  url: URL;
  parameters: Record<string, string>;
  principal: Principal;
  body: unknown;
}

type RouteResult = { status: number; body: unknown; headers?: Record<string, string> } | "streamed";

export interface ApiRoute {
  method: "GET" | "POST";
  /** OpenAPI path template, e.g. /api/approvals/{id}/approve. */
  path: string;
  /** The least role that may call it; `public` only for logging in. */
  role: ReviewerRole | "public";
  handle(context: RouteContext & { account: ReviewerAccount }): Promise<RouteResult>;
}

/** The dashboard's Content-Security-Policy: no inline script or style, nothing from elsewhere. */
export const contentSecurityPolicy =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const securityHeaders = {
  "content-security-policy": contentSecurityPolicy,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "cache-control": "no-store",
};

const maximumBodyBytes = 64 * 1024;

const staticFiles: Record<string, string> = {
  "/": "index.html",
  "/web/app.js": "app.js",
  "/web/app.css": "app.css",
};
const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

const scopeSchema = z.enum(["once", "session", "always"]).default("once");
const approveBody = z.strictObject({ scope: scopeSchema }).default({ scope: "once" });
const denyBody = z.strictObject({
  reason: z.string().trim().min(1, "required: the agent is told why").max(2000),
});
const batchBody = z.strictObject({
  ids: z.array(z.string().min(1)).min(1).max(1000),
  decision: z.enum(["approve", "deny"]),
  scope: scopeSchema,
  reason: z.string().trim().min(1).max(2000).optional(),
});
const loginBody = z.strictObject({ name: z.string().min(1).max(64), password: z.string().min(1).max(1024) });
const killSwitchBody = z.strictObject({
  scope: z.enum(["all", "agent", "session"]).default("all"),
  target: z.string().min(1).max(200).optional(),
  reason: z.string().max(2000).default(""),
});

export interface OversightApiOptions {
  accounts: ReviewerAccounts;
  sessions: DashboardSessions;
  throttle?: LoginThrottle;
  /** The agent a Warden agent token names, or null: such tokens are refused here (403). */
  agentForToken: (token: string) => string | null;
  approvals: ApprovalQueue;
  oversight: OversightService;
  tail: EventTail;
  store: EventStore;
  policy: { path: string | null; version: () => string };
  logIntegrity: () => Promise<unknown>;
  /** Every held call this reviewer may see: this replica's, and with replicas on PostgreSQL the others'. */
  inbox: ApprovalInbox;
  webDir: string;
  logger: Logger;
}

/**
 * The reviewer API under /api/ and the dashboard at /, on the gateway's listener. Every
 * request is authorised before anything is looked up: credentials first (agent tokens are
 * refused outright), then the route's least role, then CSRF for cookie sessions, and only then
 * the handler.
 */
export class OversightApi {
  readonly routes: ApiRoute[];
  readonly #options: OversightApiOptions;
  readonly #throttle: LoginThrottle;
  readonly #compiled: { route: ApiRoute; pattern: RegExp; names: string[] }[];
  #constitutionCache: { version: string; value: unknown } | null = null;

  constructor(options: OversightApiOptions) {
    this.#options = options;
    this.#throttle = options.throttle ?? new LoginThrottle();
    this.routes = this.#defineRoutes();
    this.#compiled = this.routes.map((route) => {
      const names: string[] = [];
      const source = route.path.replace(/\{(\w+)\}/g, (_match, name: string) => {
        names.push(name);
        return "([^/]+)";
      });
      return { route, pattern: new RegExp(`^${source}$`), names };
    });
  }

  /** Answers the dashboard and /api/...; returns false for any other path. */
  async handle(request: IncomingMessage, response: ServerResponse): Promise<boolean> {
    const url = new URL(request.url ?? "/", "http://warden.invalid");
    if (Object.hasOwn(staticFiles, url.pathname)) {
      await this.#serveStatic(request, response, staticFiles[url.pathname]!);
      return true;
    }
    if (url.pathname !== "/api" && !url.pathname.startsWith("/api/")) return false;
    try {
      const principal = this.#authenticate(request);
      if (principal.kind === "agent") {
        throw new WardenError("forbidden", "agent credentials cannot use the reviewer API");
      }
      const match = this.#match(request.method ?? "GET", url.pathname);
      if (match?.route.role === "public") {
        const result = await match.route.handle({
          request,
          response,
          url,
          parameters: match.parameters,
          principal,
          body: await readJsonBody(request),
          account: { name: "", role: "viewer" },
        });
        if (result !== "streamed") send(response, result.status, result.body, result.headers);
        return true;
      }
      if (principal.kind !== "reviewer") {
        throw new WardenError("unauthorized", "log in, or send Authorization: Bearer TOKEN of a reviewer");
      }
      if (!match) throw new WardenError("not-found", `no route ${request.method} ${url.pathname}`);
      if (!roleAtLeast(principal.account.role, match.route.role as ReviewerRole)) {
        throw new WardenError(
          "forbidden",
          `${match.route.method} ${match.route.path} needs the ${match.route.role} role`,
        );
      }
      if (match.route.method !== "GET" && principal.session) {
        const given = request.headers["x-csrf-token"];
        if (
          !DashboardSessions.csrfMatches(principal.session, typeof given === "string" ? given : undefined)
        ) {
          throw new WardenError("forbidden", "missing or wrong X-CSRF-Token");
        }
      }
      const body = match.route.method === "POST" ? await readJsonBody(request) : undefined;
      const result = await match.route.handle({
        request,
        response,
        url,
        parameters: match.parameters,
        principal,
        body,
        account: principal.account,
      });
      if (result !== "streamed") send(response, result.status, result.body, result.headers);
    } catch (error) {
      if (!WardenError.isInstance(error))
        this.#options.logger.error({ error: errorMessage(error) }, "API request failed");
      if (response.headersSent) response.destroy();
      else send(response, statusOf(error), { error: toWireError(error) });
    }
    return true;
  }

  #authenticate(request: IncomingMessage): Principal {
    const authorization = request.headers.authorization;
    const apiKey = request.headers["x-api-key"];
    const bearer = /^Bearer\s+(\S+)$/i.exec(authorization ?? "")?.[1];
    for (const token of [bearer, typeof apiKey === "string" ? apiKey : undefined]) {
      if (token !== undefined && this.#options.agentForToken(token) !== null) return { kind: "agent" };
    }
    if (authorization !== undefined) {
      const account = bearer === undefined ? null : this.#options.accounts.accountForToken(bearer);
      return account ? { kind: "reviewer", account, session: null } : { kind: "anonymous" };
    }
    const sessionId = cookieValue(request.headers.cookie, sessionCookieName);
    const session = sessionId ? this.#options.sessions.get(sessionId) : null;
    return session ? { kind: "reviewer", account: session.account, session } : { kind: "anonymous" };
  }

  #match(method: string, pathname: string) {
    for (const { route, pattern, names } of this.#compiled) {
      if (route.method !== method) continue;
      const found = pattern.exec(pathname);
      if (!found) continue;
      const parameters: Record<string, string> = {};
      names.forEach((name, index) => {
        parameters[name] = safeDecode(found[index + 1]!);
      });
      return { route, parameters };
    }
    return null;
  }

  async #serveStatic(request: IncomingMessage, response: ServerResponse, file: string): Promise<void> {
    if (request.method !== "GET" && request.method !== "HEAD") {
      send(response, 405, { error: { code: "input-invalid", message: "only GET" } });
      return;
    }
    const text = await readFile(path.join(this.#options.webDir, file));
    response.writeHead(200, {
      ...securityHeaders,
      "content-type": contentTypes[path.extname(file)] ?? "application/octet-stream",
    });
    response.end(request.method === "HEAD" ? undefined : text);
  }

  #defineRoutes(): ApiRoute[] {
    const options = this.#options;
    const { approvals, oversight, tail, store, inbox } = options;
    const mayDecide = (account: ReviewerAccount, call: Pick<HeldCall, "approvers" | "ruleId">) => {
      if (account.role !== "admin" && !call.approvers.roles.includes(account.role)) {
        throw new WardenError(
          "forbidden",
          `rule ${call.ruleId} needs a reviewer with role ${call.approvers.roles.join(" or ")}`,
        );
      }
    };
    // Authorised here (role, admin-only "always") whichever replica holds the call; the replica
    // holding it applies the two-person rule by name and records the decision.
    const decide = async (
      account: ReviewerAccount,
      entry: InboxEntry,
      decision:
        | { decision: "approve"; scope: "once" | "session" | "always" }
        | { decision: "deny"; reason: string },
    ) => {
      mayDecide(account, entry.call);
      if (decision.decision === "approve" && decision.scope === "always" && account.role !== "admin") {
        throw new WardenError("forbidden", "only an admin may grant a call always");
      }
      return inbox.decide(
        entry,
        decision.decision === "approve"
          ? { outcome: "approved", reviewer: account.name, scope: decision.scope }
          : { outcome: "denied", reviewer: account.name, reason: decision.reason },
      );
    };
    const ok = (body: unknown, status = 200) => ({ status, body });
    return [
      {
        method: "POST",
        path: "/api/login",
        role: "public",
        handle: async ({ body, request }): Promise<RouteResult> => {
          const { name, password } = parse(loginBody, body);
          const keys = [`name:${name}`, `address:${request.socket.remoteAddress ?? ""}`];
          const wait = this.#throttle.retryAfterMs(keys);
          if (wait > 0) {
            return {
              status: 429,
              body: { error: { code: "forbidden", message: "too many failed logins; try again later" } },
              headers: { "retry-after": String(Math.ceil(wait / 1000)) },
            };
          }
          const account = await options.accounts.checkPassword(name, password);
          if (!account) {
            this.#throttle.fail(keys);
            throw new WardenError("unauthorized", "wrong name or password");
          }
          this.#throttle.succeed(keys);
          const session = options.sessions.create(account);
          return {
            status: 200,
            body: { name: account.name, role: account.role, csrfToken: session.csrfToken },
            headers: {
              "set-cookie": `${sessionCookieName}=${session.id}; Path=/; HttpOnly; Secure; SameSite=Strict`,
            },
          };
        },
      },
      {
        method: "POST",
        path: "/api/logout",
        role: "viewer",
        handle: async ({ principal }) => {
          if (principal.kind === "reviewer" && principal.session)
            options.sessions.delete(principal.session.id);
          return {
            status: 200,
            body: { loggedOut: true },
            headers: {
              "set-cookie": `${sessionCookieName}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0`,
            },
          };
        },
      },
      {
        method: "GET",
        path: "/api/session",
        role: "viewer",
        handle: async ({ principal, account }) =>
          ok({
            name: account.name,
            role: account.role,
            ...(principal.kind === "reviewer" && principal.session
              ? { csrfToken: principal.session.csrfToken }
              : {}),
          }),
      },
      {
        method: "GET",
        path: "/api/approvals",
        role: "viewer",
        handle: async () =>
          ok({ approvals: await Promise.all((await inbox.list()).map((entry) => this.#describe(entry))) }),
      },
      {
        method: "GET",
        path: "/api/approvals/{id}",
        role: "viewer",
        handle: async ({ parameters }) => {
          const entry = await inbox.held(parameters.id!);
          const { call } = entry;
          const trace = await inbox.trace(entry, async () => {
            const session = await store.read({ sessionId: call.identity.sessionId, limit: 5000 });
            return session
              .filter((event) => event.seq <= (approvalSeq(session, call) ?? Number.MAX_SAFE_INTEGER))
              .slice(-50);
          });
          return ok({ approval: await this.#describe(entry), trace });
        },
      },
      {
        method: "POST",
        path: "/api/approvals/{id}/approve",
        role: "reviewer",
        handle: async ({ parameters, body, account }) => {
          const { scope } = parse(approveBody, body ?? {});
          return ok(await decide(account, await inbox.held(parameters.id!), { decision: "approve", scope }));
        },
      },
      {
        method: "POST",
        path: "/api/approvals/{id}/deny",
        role: "reviewer",
        handle: async ({ parameters, body, account }) => {
          const { reason } = parse(denyBody, body);
          return ok(await decide(account, await inbox.held(parameters.id!), { decision: "deny", reason }));
        },
      },
      {
        method: "POST",
        path: "/api/approvals/batch",
        role: "reviewer",
        handle: async ({ body, account }) => {
          const batch = parse(batchBody, body);
          if (batch.decision === "deny" && !batch.reason)
            throw new WardenError("input-invalid", "reason: required for deny (the agent is told why)");
          const entries = new Map<string, InboxEntry>();
          for (const id of new Set(batch.ids)) entries.set(id, await inbox.held(id));
          const calls = [...entries.values()].map((entry) => entry.call);
          const first = calls[0]!;
          const same = (call: HeldCall) =>
            call.server === first.server &&
            call.tool === first.tool &&
            canonicalJson(call.arguments ?? null) === canonicalJson(first.arguments ?? null);
          if (!calls.every(same)) {
            throw new WardenError(
              "input-invalid",
              "batch decisions need held calls with identical tool and arguments",
            );
          }
          for (const call of calls) mayDecide(account, call);
          const results = [];
          for (const [id, entry] of entries) {
            results.push({
              id,
              ...(await decide(
                account,
                entry,
                batch.decision === "approve"
                  ? { decision: "approve", scope: batch.scope }
                  : { decision: "deny", reason: batch.reason ?? "" },
              )),
            });
          }
          return ok({ results });
        },
      },
      {
        method: "GET",
        path: "/api/grants",
        role: "viewer",
        handle: async () => ok({ grants: approvals.grants.list() }),
      },
      {
        method: "POST",
        path: "/api/grants/{id}/revoke",
        role: "reviewer",
        handle: async ({ parameters, account }) => {
          await approvals.grants.revoke(parameters.id!, account.name);
          return ok({ revoked: parameters.id });
        },
      },
      {
        method: "GET",
        path: "/api/events",
        role: "viewer",
        handle: async ({ url }) => ok({ events: await readEvents(store, url.searchParams) }),
      },
      {
        method: "GET",
        path: "/api/events/stream",
        role: "viewer",
        handle: async (context) => {
          await this.#stream(context);
          return "streamed";
        },
      },
      {
        method: "GET",
        path: "/api/agents",
        role: "viewer",
        handle: async () => ok({ agents: tail.agents() }),
      },
      {
        method: "GET",
        path: "/api/findings",
        role: "viewer",
        handle: async () => ok({ findings: tail.findings() }),
      },
      {
        method: "GET",
        path: "/api/overview",
        role: "viewer",
        handle: async () =>
          ok({
            agents: tail.agents().length,
            heldCalls: (await inbox.list()).length,
            findings: tail.findings().length,
            holdsPerHour: tail.holdsPerHour(),
            toolCallsPerHour: tail.toolCallsPerHour(),
            killSwitch: oversight.killSwitchState(),
          }),
      },
      {
        method: "GET",
        path: "/api/constitution",
        role: "viewer",
        handle: async () => ok(await this.#constitution()),
      },
      {
        method: "GET",
        path: "/api/log-integrity",
        role: "viewer",
        handle: async () => ok(await options.logIntegrity()),
      },
      {
        method: "GET",
        path: "/api/kill-switch",
        role: "viewer",
        handle: async () => ok(oversight.killSwitchState()),
      },
      {
        method: "POST",
        path: "/api/kill-switch/engage",
        role: "reviewer",
        handle: async ({ body, account }) => {
          const change = parse(killSwitchBody, body ?? {});
          return ok(await oversight.applyKillSwitch({ engaged: true, ...change, by: account.name }));
        },
      },
      {
        method: "POST",
        path: "/api/kill-switch/release",
        role: "admin",
        handle: async ({ body, account }) => {
          const change = parse(killSwitchBody, body ?? {});
          return ok(await oversight.applyKillSwitch({ engaged: false, ...change, by: account.name }));
        },
      },
    ];
  }

  async #describe(entry: InboxEntry) {
    const constitution = (await this.#constitution()) as {
      rules?: { id: string; rationale?: string; description?: string }[];
    };
    const { call } = entry;
    const rule = constitution.rules?.find((candidate) => candidate.id === call.ruleId);
    const { callKey: _internal, ...shown } = call;
    return {
      ...shown,
      rationale: rule?.rationale ?? rule?.description ?? null,
      approvedBy: entry.approvedBy,
      ...(entry.chain === undefined ? {} : { chain: entry.chain }),
      remote: entry.remote,
    };
  }

  async #constitution(): Promise<unknown> {
    const { policy, tail } = this.#options;
    const version = policy.version();
    if (this.#constitutionCache?.version !== version) {
      let value: Record<string, unknown> = {
        path: policy.path,
        version,
        text: null,
        rules: [],
        default: "deny",
      };
      if (policy.path) {
        try {
          const text = await readFile(policy.path, "utf8");
          const parsed = parseConstitution(text, policy.path);
          value = {
            ...value,
            text,
            ...(parsed.ok
              ? {
                  rules: parsed.constitution.rules,
                  default: parsed.constitution.default,
                  mode: parsed.constitution.mode,
                }
              : { problems: parsed.problems }),
          };
        } catch (error) {
          value = { ...value, problems: [`${policy.path}: ${errorMessage(error)}`] };
        }
      }
      this.#constitutionCache = { version, value };
    }
    return { ...(this.#constitutionCache.value as object), shadowHits: tail.shadowHits() };
  }

  /** Server-sent events: the log after `afterSeq` (at most 1000), then each new event as it is committed. */
  async #stream(context: RouteContext & { account: ReviewerAccount }): Promise<void> {
    const { response, request, url, principal } = context;
    const afterSeq = Number(url.searchParams.get("afterSeq") ?? "0");
    let lastSent = Number.isSafeInteger(afterSeq) && afterSeq >= 0 ? afterSeq : 0;
    response.writeHead(200, {
      ...securityHeaders,
      "content-type": "text/event-stream; charset=utf-8",
      connection: "keep-alive",
    });
    response.write(": warden event stream\n\n");
    let backlogDone = false;
    const queued: StoredEvent[] = [];
    const sendEvents = (events: StoredEvent[]) => {
      if (
        principal.kind === "reviewer" &&
        principal.session &&
        !this.#options.sessions.get(principal.session.id)
      ) {
        response.end();
        return;
      }
      for (const event of events) {
        if (event.seq <= lastSent) continue;
        lastSent = event.seq;
        response.write(`id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
      }
    };
    const unsubscribe = this.#options.tail.subscribe((events) => {
      if (backlogDone) sendEvents(events);
      else queued.push(...events);
    });
    const heartbeat = setInterval(() => response.write(": keep-alive\n\n"), 15_000);
    const end = () => {
      unsubscribe();
      clearInterval(heartbeat);
    };
    request.on("close", end);
    response.on("close", end);
    const head = this.#options.tail.cursor;
    const backlogStart = Math.max(lastSent, head - 1000);
    const backlog = await this.#options.store.read({ afterSeq: backlogStart, limit: 1000 });
    sendEvents(backlog.filter((event) => event.seq <= head));
    backlogDone = true;
    sendEvents(queued);
  }
}

/** A malformed escape stays as it is: the lookup then finds nothing (404, after authorisation). */
function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function approvalSeq(events: StoredEvent[], call: HeldCall): number | undefined {
  return events.find(
    (event) =>
      event.type === "approval-request" &&
      (event.data as { approvalId: string }).approvalId === call.approvalId,
  )?.seq;
}

async function readEvents(store: EventStore, query: URLSearchParams): Promise<StoredEvent[]> {
  const afterSeq = Number(query.get("afterSeq") ?? "0");
  const limit = Math.min(Number(query.get("limit") ?? "200"), 1000);
  if (!Number.isSafeInteger(afterSeq) || afterSeq < 0)
    throw new WardenError("input-invalid", "afterSeq: must be a whole number ≥ 0");
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw new WardenError("input-invalid", "limit: must be a whole number from 1 to 1000");
  const types = query.getAll("type");
  for (const type of types)
    if (!isEventType(type)) throw new WardenError("input-invalid", `type: unknown event type ${type}`);
  const agentId = query.get("agentId");
  const sessionId = query.get("sessionId");
  const traceId = query.get("traceId");
  const events = await store.read({
    afterSeq,
    limit: traceId ? 5000 : limit,
    ...(agentId ? { agentId } : {}),
    ...(sessionId ? { sessionId } : {}),
    ...(types.length > 0 ? { types: types as EventType[] } : {}),
  });
  return traceId ? events.filter((event) => event.traceId === traceId).slice(0, limit) : events;
}

function parse<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => `${issue.path.join(".") || "body"}: ${issue.message}`);
  throw new WardenError("input-invalid", issues.join("; "));
}

async function readJsonBody(request: IncomingMessage): Promise<unknown> {
  if (request.method !== "POST") return undefined;
  const contentType = request.headers["content-type"] ?? "";
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maximumBodyBytes)
      throw new WardenError("input-invalid", `body: larger than ${maximumBodyBytes} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  // A form on another site cannot send application/json without a CORS preflight, which is never granted.
  if (!/^application\/json(\s*;|$)/i.test(contentType))
    throw new WardenError("input-invalid", "body: Content-Type must be application/json");
  try {
    return parseStrictJson(Buffer.concat(chunks).toString("utf8"), maximumBodyBytes);
  } catch (error) {
    throw new WardenError("input-invalid", `body: ${errorMessage(error)}`);
  }
}

function cookieValue(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return rest.join("=");
  }
  return null;
}

function statusOf(error: unknown): number {
  if (!WardenError.isInstance(error)) return 500;
  switch (error.code) {
    case "unauthorized":
      return 401;
    case "forbidden":
      return 403;
    case "not-found":
      return 404;
    case "input-invalid":
      return 400;
    default:
      return 500;
  }
}

function send(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { ...securityHeaders, "content-type": "application/json", ...headers });
  response.end(JSON.stringify(body));
}
