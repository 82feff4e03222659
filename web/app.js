// Warden dashboard: plain ES modules, no build step. It speaks only the public HTTP API
// (docs/openapi.json). Everything agents wrote is untrusted: it is only ever set with
// textContent (never innerHTML), and the Content-Security-Policy forbids inline script.

const state = { me: null, csrfToken: null, events: [], stream: null, approvals: [], timers: [] };
const maxTimeline = 500;

const byId = (id) => document.getElementById(id);

/** Builds an element; children are nodes or strings (strings become text nodes). */
function element(tag, properties = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(properties)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function svg(tag, attributes = {}) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && state.csrfToken) headers["x-csrf-token"] = state.csrfToken;
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const payload = await response.json().catch(() => ({}));
  if (response.status === 401 && path !== "/api/login") showLogin("Your session has ended; log in again.");
  if (!response.ok) throw new ApiError(response.status, payload?.error?.message ?? `HTTP ${response.status}`);
  return payload;
}

function showLogin(message = "") {
  state.me = null;
  state.csrfToken = null;
  state.stream?.close();
  state.stream = null;
  byId("app").hidden = true;
  byId("logout").hidden = true;
  byId("whoami").textContent = "";
  byId("login-view").hidden = false;
  byId("login-error").textContent = message;
}

async function start() {
  const me = await api("GET", "/api/session");
  state.me = me;
  state.csrfToken = me.csrfToken ?? state.csrfToken;
  byId("login-view").hidden = true;
  byId("app").hidden = false;
  byId("logout").hidden = false;
  byId("whoami").textContent = `${me.name} (${me.role})`;
  await Promise.all([refreshOverview(), refreshInbox(), refreshKillSwitch()]);
  openStream();
}

function openStream() {
  state.stream?.close();
  const source = new EventSource("/api/events/stream?afterSeq=0");
  state.stream = source;
  source.onopen = () => {
    byId("live").textContent = "● live";
  };
  source.onerror = () => {
    byId("live").textContent = "○ reconnecting";
    // A stream refused because the session ended: show the login form instead of retrying.
    api("GET", "/api/session").catch(() => undefined);
  };
  source.onmessage = (message) => onEvent(JSON.parse(message.data));
  for (const type of eventTypes) source.addEventListener(type, (message) => onEvent(JSON.parse(message.data)));
}

const eventTypes = [
  "model-request", "model-response", "tool-call", "policy-decision", "approval-request",
  "approval-decision", "tool-result", "tool-pin", "policy-load", "sandbox-run", "finding",
  "claim-check", "audit-verdict", "kill-switch", "checkpoint", "eval-sample", "grant-created",
  "grant-revoked",
];

let refreshPending = null;
function onEvent(event) {
  state.events.push(event);
  if (state.events.length > maxTimeline) state.events.shift();
  appendTimeline(event);
  if (event.type === "approval-request" || event.type === "approval-decision") refreshInbox();
  if (event.type === "kill-switch") refreshKillSwitch();
  if (event.type === "finding" && !byId("view-findings").hidden) refreshFindings();
  refreshPending ??= setTimeout(() => {
    refreshPending = null;
    refreshOverview();
  }, 1000);
}

function summary(event) {
  const data = event.data ?? {};
  switch (event.type) {
    case "tool-call":
      return `${data.server}/${data.tool} ${JSON.stringify(data.arguments ?? null).slice(0, 160)}`;
    case "policy-decision":
      return `${data.applied?.effect} ${data.applied?.ruleId ?? ""} (${data.mode})`;
    case "approval-request":
      return `held by ${data.ruleId}: ${data.server}/${data.tool}`;
    case "approval-decision":
      return `${data.outcome} by ${data.reviewer}${data.reason ? `: ${data.reason}` : ""}`;
    case "tool-result":
      return `${data.isError ? "error" : "ok"} in ${Math.round(data.latencyMs ?? 0)} ms`;
    case "model-request":
    case "model-response":
      return `${data.provider ?? ""} ${data.model ?? ""}`;
    case "finding":
      return `${data.severity} ${data.detector}: ${data.explanation}`;
    case "claim-check":
      return `${data.verdict} ${data.kind}: "${data.claim}" (${data.reason})`;
    case "audit-verdict":
      return `${data.verdict} (${data.trigger}${data.disagreement ? ", samples disagreed" : ""})${data.problem ? `: ${data.problem}` : ""}`;
    case "kill-switch":
      return `${data.engaged ? "engaged" : "released"} by ${data.by} (${data.scope ?? "all"} ${data.target ?? ""}) ${data.reason ?? ""}`;
    default:
      return "";
  }
}

function appendTimeline(event) {
  const agents = byId("trace-agent");
  if (event.agentId !== "warden" && ![...agents.options].some((option) => option.value === event.agentId)) {
    agents.append(element("option", { value: event.agentId, text: event.agentId }));
  }
  const filter = agents.value;
  if (filter && event.agentId !== filter) return;
  const row = element(
    "li",
    { class: `type-${event.type}`, "data-seq": String(event.seq) },
    element("span", { class: "muted", text: new Date(event.time).toLocaleTimeString() }),
    element("strong", { text: event.type }),
    element("span", { text: event.agentId }),
    element("span", { text: summary(event) }),
  );
  const timeline = byId("timeline");
  timeline.prepend(row);
  while (timeline.children.length > maxTimeline) timeline.lastChild.remove();
}

function redrawTimeline() {
  byId("timeline").replaceChildren();
  for (const event of state.events) appendTimeline(event);
}

async function refreshOverview() {
  const [overview, agents] = await Promise.all([api("GET", "/api/overview"), api("GET", "/api/agents")]);
  byId("tile-agents").textContent = String(overview.agents);
  byId("tile-held").textContent = String(overview.heldCalls);
  byId("tile-findings").textContent = String(overview.findings);
  byId("tile-kill").textContent = killSummary(overview.killSwitch);
  byId("agents-body").replaceChildren(
    ...agents.agents.map((agent) =>
      element(
        "tr",
        {},
        element("td", { text: agent.agentId }),
        element("td", { text: String(agent.sessions) }),
        element("td", { text: String(agent.toolCalls) }),
        element("td", { text: String(agent.denied) }),
        element("td", { text: String(agent.held) }),
        element("td", { text: new Date(agent.lastSeen).toLocaleString() }),
      ),
    ),
  );
  drawStackedChart(
    byId("holds-chart"),
    overview.holdsPerHour.map((row) => ({ hour: row.hour, key: row.ruleId, count: row.held })),
    "No calls held yet.",
  );
  drawStackedChart(
    byId("activity-chart"),
    overview.toolCallsPerHour.map((row) => ({ hour: row.hour, key: row.agentId, count: row.calls })),
    "No tool calls yet.",
  );
}

/** Stacked bars: one per hour, one colour per key (rule or agent). */
function drawStackedChart(chart, rows, emptyText) {
  if (rows.length === 0) {
    chart.replaceChildren(element("p", { class: "muted", text: emptyText }));
    return;
  }
  const hours = [...new Set(rows.map((row) => row.hour))].slice(-24);
  const rules = [...new Set(rows.map((row) => row.key))];
  const colours = ["#1f5fbf", "#b42318", "#067647", "#b54708", "#6941c6", "#0e7090"];
  const totals = hours.map((hour) => rows.filter((row) => row.hour === hour).reduce((sum, row) => sum + row.count, 0));
  const maximum = Math.max(...totals, 1);
  const width = 40 * hours.length + 40;
  const height = 160;
  const picture = svg("svg", { width, height: height + 30, role: "img" });
  hours.forEach((hour, index) => {
    let y = height;
    for (const [ruleIndex, rule] of rules.entries()) {
      const held = rows.find((row) => row.hour === hour && row.key === rule)?.count ?? 0;
      if (held === 0) continue;
      const barHeight = (held / maximum) * (height - 10);
      y -= barHeight;
      const bar = svg("rect", { x: 20 + index * 40, y, width: 28, height: barHeight, fill: colours[ruleIndex % colours.length] });
      const title = svg("title");
      title.textContent = `${rule}: ${held} at ${hour}`;
      bar.append(title);
      picture.append(bar);
    }
    const label = svg("text", { x: 20 + index * 40, y: height + 16, "font-size": 10 });
    label.textContent = hour.slice(11, 16);
    picture.append(label);
  });
  const legend = element(
    "p",
    { class: "muted" },
    ...rules.map((rule, index) => element("span", { text: `■ ${rule}  `, class: `legend-${index % colours.length}` })),
  );
  chart.replaceChildren(picture, legend);
}

async function refreshInbox({ onlyIfChanged = false } = {}) {
  const { approvals } = await api("GET", "/api/approvals");
  const ids = (list) => list.map((approval) => `${approval.approvalId}:${approval.approvedBy.join(",")}`).join(" ");
  // Polling (for calls other replicas hold) must not wipe a reason being typed.
  if (onlyIfChanged && ids(approvals) === ids(state.approvals)) return;
  state.approvals = approvals;
  byId("inbox-count").textContent = approvals.length > 0 ? String(approvals.length) : "";
  byId("inbox-empty").hidden = approvals.length > 0;
  const list = byId("inbox-list");
  const open = new Set([...list.querySelectorAll("[data-trace-open]")].map((node) => node.dataset.approvalId));
  list.replaceChildren(...approvals.map((approval) => heldCard(approval, open.has(approval.approvalId))));
}

function heldCard(approval, traceOpen) {
  const expires = element("span", { class: "expires", "data-expires-at": approval.expiresAt, text: timeLeft(approval.expiresAt) });
  const reason = element("input", { placeholder: "reason for denying (the agent is told)", class: "deny-reason" });
  const error = element("p", { class: "error", role: "alert" });
  const trace = element("ol", { class: "timeline trace" });
  const decide = async (path, body) => {
    error.textContent = "";
    try {
      await api("POST", `/api/approvals/${encodeURIComponent(approval.approvalId)}/${path}`, body);
      await refreshInbox();
    } catch (failure) {
      error.textContent = failure.message;
    }
  };
  const approve = (scope, label) =>
    element("button", { type: "button", class: "primary", text: label, "data-action": `approve-${scope}`, onclick: () => decide("approve", { scope }) });
  const deny = element("button", {
    type: "button",
    class: "danger",
    text: "Deny",
    "data-action": "deny",
    onclick: () => {
      if (reason.value.trim() === "") {
        error.textContent = "Give a reason: the agent is told why.";
        return;
      }
      decide("deny", { reason: reason.value });
    },
  });
  const showTrace = element("button", {
    type: "button",
    text: "Trace leading up to it",
    onclick: async () => {
      const { trace: events } = await api("GET", `/api/approvals/${encodeURIComponent(approval.approvalId)}`);
      trace.replaceChildren(
        ...events.map((event) =>
          element("li", { class: `type-${event.type}` },
            element("span", { class: "muted", text: new Date(event.time).toLocaleTimeString() }),
            element("strong", { text: event.type }),
            element("span", { text: event.agentId }),
            element("span", { text: summary(event) })),
        ),
      );
      trace.setAttribute("data-trace-open", "");
      trace.dataset.approvalId = approval.approvalId;
    },
  });
  const needed = approval.approvers.count;
  const card = element(
    "article",
    { class: "card held", "data-approval-id": approval.approvalId },
    element("h3", { text: `${approval.server}/${approval.tool}` }),
    element("p", {}, "agent ", element("strong", { text: approval.identity.agentId }), " · session ", element("code", { text: approval.identity.sessionId }),
      approval.remote ? ` · held on replica ${approval.chain}` : ""),
    element("p", {}, "rule ", element("strong", { class: "rule", text: approval.ruleId }), " · ", element("span", { class: "rationale", text: approval.rationale ?? "" })),
    element("p", { class: "muted" }, "expires in ", expires,
      needed > 1 ? ` · needs ${needed} reviewers (approved by ${approval.approvedBy.join(", ") || "nobody yet"})` : ""),
    element("pre", { class: "arguments", text: JSON.stringify(approval.arguments, null, 2) }),
    element("div", { class: "actions" },
      approve("once", "Approve once"),
      approve("session", "Approve for this session"),
      state.me?.role === "admin" ? approve("always", "Approve always") : null,
      reason,
      deny,
      showTrace),
    error,
    trace,
  );
  if (traceOpen) showTrace.click();
  return card;
}

function timeLeft(expiresAt) {
  const seconds = Math.max(0, Math.round((Date.parse(expiresAt) - Date.now()) / 1000));
  return seconds >= 120 ? `${Math.round(seconds / 60)} min` : `${seconds} s`;
}

function tickExpiries() {
  for (const node of document.querySelectorAll("[data-expires-at]")) node.textContent = timeLeft(node.dataset.expiresAt);
}

async function refreshFindings() {
  const { findings } = await api("GET", "/api/findings");
  byId("findings-body").replaceChildren(
    ...findings.map((finding) =>
      element("tr", {},
        element("td", { text: new Date(finding.time).toLocaleString() }),
        element("td", { text: finding.data.severity }),
        element("td", { text: finding.data.detector }),
        element("td", { text: finding.agentId }),
        element("td", { text: finding.data.explanation })),
    ),
  );
}

async function refreshConstitution() {
  const constitution = await api("GET", "/api/constitution");
  byId("constitution-meta").textContent =
    `${constitution.path ?? "no constitution file (everything is denied)"} · version ${constitution.version} · default ${constitution.default}` +
    (constitution.problems ? ` · problems: ${constitution.problems.join("; ")}` : "");
  byId("rules-body").replaceChildren(
    ...constitution.rules.map((rule) =>
      element("tr", {},
        element("td", { text: rule.id }),
        element("td", { text: rule.effect }),
        element("td", { text: rule.mode }),
        element("td", {}, element("code", { text: rule.when })),
        element("td", { text: rule.rationale ?? "" }),
        element("td", { text: String(constitution.shadowHits[rule.id] ?? 0) })),
    ),
  );
  byId("constitution-text").textContent = constitution.text ?? "";
}

async function refreshIntegrity() {
  const status = byId("integrity-status");
  status.textContent = "checking…";
  const report = await api("GET", "/api/log-integrity");
  status.replaceChildren(
    element("span", { class: report.ok ? "ok" : "failed", text: report.ok ? "intact" : "FAILED" }),
    ` · ${report.events} events · head seq ${report.head?.seq ?? 0} · ${report.checkpoints} signed checkpoints · checked ${new Date(report.checkedAt).toLocaleTimeString()}`,
  );
  byId("integrity-problems").replaceChildren(
    ...report.problems.map((problem) => element("li", { text: `seq ${problem.seq}: ${problem.kind}: ${problem.message}` })),
  );
}

function killSummary(killSwitch) {
  if (killSwitch.all) return "ALL STOPPED";
  const count = killSwitch.agents.length + killSwitch.sessions.length;
  return count > 0 ? `${count} halted` : "off";
}

async function refreshKillSwitch() {
  const killSwitch = await api("GET", "/api/kill-switch");
  const parts = [];
  if (killSwitch.all) parts.push(`Everything is stopped${killSwitch.all.reason ? `: ${killSwitch.all.reason}` : ""}.`);
  for (const agent of killSwitch.agents) parts.push(`Agent ${agent.agentId} is stopped. ${agent.reason}`);
  for (const session of killSwitch.sessions) parts.push(`Session ${session.sessionId} is stopped. ${session.reason}`);
  byId("kill-state").textContent = parts.length > 0 ? parts.join(" ") : "Agents are running.";
  byId("tile-kill").textContent = killSummary(killSwitch);
}

async function killSwitch(action) {
  const scope = byId("kill-scope").value;
  const target = byId("kill-target").value.trim();
  const body = { scope, reason: byId("kill-reason").value };
  if (scope !== "all") body.target = target;
  byId("kill-error").textContent = "";
  try {
    await api("POST", `/api/kill-switch/${action}`, body);
    await refreshKillSwitch();
  } catch (failure) {
    byId("kill-error").textContent = failure.message;
  }
}

const viewLoaders = {
  overview: refreshOverview,
  inbox: refreshInbox,
  trace: async () => {},
  findings: refreshFindings,
  constitution: refreshConstitution,
  integrity: refreshIntegrity,
  kill: refreshKillSwitch,
};

function showView(name) {
  for (const button of document.querySelectorAll("nav button")) button.classList.toggle("active", button.dataset.view === name);
  for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== `view-${name}`;
  viewLoaders[name]?.().catch((failure) => console.warn(failure.message));
}

function wire() {
  byId("login").addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    byId("login-error").textContent = "";
    try {
      const session = await api("POST", "/api/login", { name: byId("login-name").value, password: byId("login-password").value });
      state.csrfToken = session.csrfToken;
      byId("login-password").value = "";
      await start();
    } catch (failure) {
      byId("login-error").textContent = failure.message;
    }
  });
  byId("logout").addEventListener("click", async () => {
    await api("POST", "/api/logout").catch(() => undefined);
    showLogin();
  });
  for (const button of document.querySelectorAll("nav button")) button.addEventListener("click", () => showView(button.dataset.view));
  byId("trace-agent").addEventListener("change", redrawTimeline);
  byId("integrity-check").addEventListener("click", () => refreshIntegrity());
  byId("kill-form").addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    killSwitch("engage");
  });
  byId("kill-release").addEventListener("click", () => killSwitch("release"));
  setInterval(tickExpiries, 1000);
  // Calls held by other replicas (PostgreSQL) are not on this replica's event stream.
  setInterval(() => {
    if (state.me && !byId("app").hidden) refreshInbox({ onlyIfChanged: true }).catch(() => undefined);
  }, 5000);
}

wire();
start().catch(() => showLogin());
