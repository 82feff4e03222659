import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createAgentToken,
  createSandbox,
  filesystemServer,
  projectRoot,
  runWarden,
  type Sandbox,
  startWardenUp,
  textOf,
} from "./helpers/mcp-client.js";

/** Debian's Chromium (`apt-get install chromium`); CI installs it in .ci/run. */
const chromiumPath = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((candidate) =>
  existsSync(candidate),
);
const missingReason = chromiumPath ? null : "Chromium is not installed (apt-get install -y chromium)";
if (missingReason !== null && process.env.CI !== "true")
  console.warn(`skipping dashboard tests: ${missingReason}`);
const chromiumIt = missingReason !== null && process.env.CI !== "true" ? it.skip : it;

const artifacts = path.join(projectRoot, "test-artifacts");
const password = "dashboard password for the test";

let sandbox: Sandbox;
let daemon: ChildProcess;
let baseUrl: string;
let browser: Browser;
let page: Page;
let agent: Client;

beforeAll(async () => {
  if (!chromiumPath) return;
  mkdirSync(artifacts, { recursive: true });
  sandbox = createSandbox(`version: 1
default: allow
rules:
  - id: writes-need-a-person
    when: 'tool.name == "write_file"'
    effect: hold
    holdTimeout: 5m
    rationale: Writing files changes the workspace.
`);
  const configPath = path.join(sandbox.root, "warden.yaml");
  writeFileSync(
    configPath,
    `version: 1
policy: constitution.yaml
mcpServers:
  files:
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(filesystemServer)}, ${JSON.stringify(sandbox.workspace)}]
`,
  );
  ({ daemon, baseUrl } = await startWardenUp(sandbox, ["--config", configPath]));
  const added = runWarden(
    ["users", "add", "alice", "--role", "admin", "--password-stdin", "--data-dir", sandbox.dataDir],
    {
      input: password,
    },
  );
  expect(added.code, added.stderr).toBe(0);
  const token = createAgentToken(sandbox.dataDir, "browser-agent");
  agent = new Client({ name: "dashboard-test-agent", version: "1.0.0" });
  await agent.connect(
    new StreamableHTTPClientTransport(new URL(`${baseUrl}/mcp/files`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  browser = await chromium.launch({
    executablePath: chromiumPath,
    // CI containers (and root) often lack the user namespaces Chromium's own sandbox needs; the
    // browser only ever loads the local dashboard here.
    args: ["--no-sandbox"],
  });
  page = await browser.newPage();
  page.on("dialog", (dialog) => void dialog.dismiss());
}, 120_000);

afterAll(async () => {
  await agent?.close().catch(() => undefined);
  await browser?.close();
  daemon?.kill("SIGTERM");
  sandbox?.cleanup();
});

async function screenshot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(artifacts, `dashboard-${name}.png`), fullPage: true });
}

describe("the dashboard in Chromium", () => {
  chromiumIt(
    "logs in, shows a held call live, approves it, denies one with a reason, and stops the agent",
    async () => {
      await page.goto(baseUrl);
      await page.locator("#login").waitFor({ state: "visible" });
      await screenshot("login");
      await page.fill("#login-password", "not the password at all");
      await page.fill("#login-name", "alice");
      await page.click("#login button[type=submit]");
      await page.locator("#login-error").filter({ hasText: "wrong name or password" }).waitFor();
      await page.fill("#login-password", password);
      await page.click("#login button[type=submit]");
      await page.locator("#app").waitFor({ state: "visible" });
      expect(await page.textContent("#whoami")).toBe("alice (admin)");
      // The session cookie is out of reach of scripts.
      expect(await page.evaluate("document.cookie")).toBe("");
      await page.click("nav button[data-view=inbox]");

      // A held call appears live; its HTML-looking arguments stay text.
      const hostile = '<img src=x onerror="window.__warden_pwned=1">';
      const target = path.join(sandbox.workspace, "approved.txt");
      const approvedCall = agent.callTool({
        name: "write_file",
        arguments: { path: target, content: hostile },
      });
      const card = page.locator("article.held").filter({ hasText: "approved.txt" });
      await card.waitFor({ state: "visible", timeout: 20_000 });
      expect(await card.locator(".rule").textContent()).toBe("writes-need-a-person");
      expect(await card.locator(".rationale").textContent()).toBe("Writing files changes the workspace.");
      expect(await card.locator("pre.arguments").textContent()).toContain(JSON.stringify(hostile));
      expect(await card.locator("img").count()).toBe(0);
      expect(await page.evaluate("window.__warden_pwned")).toBeUndefined();
      await screenshot("held-call");
      await card.locator("button[data-action=approve-once]").click();
      const approved = await approvedCall;
      expect(approved.isError).not.toBe(true);
      expect(readFileSync(target, "utf8")).toBe(hostile);
      await card.waitFor({ state: "detached" });

      // Deny with a reason: the reason reaches the agent.
      const deniedCall = agent.callTool({
        name: "write_file",
        arguments: { path: path.join(sandbox.workspace, "denied.txt"), content: "no" },
      });
      const deniedCard = page.locator("article.held").filter({ hasText: "denied.txt" });
      await deniedCard.waitFor({ state: "visible", timeout: 20_000 });
      await deniedCard.locator("button[data-action=deny]").click();
      await deniedCard.locator(".error").filter({ hasText: "Give a reason" }).waitFor();
      await deniedCard.locator("input.deny-reason").fill("not during the release freeze");
      await deniedCard.locator("button[data-action=deny]").click();
      const denied = await deniedCall;
      expect(denied.isError).toBe(true);
      expect(textOf(denied)).toContain("not during the release freeze");
      expect(existsSync(path.join(sandbox.workspace, "denied.txt"))).toBe(false);

      // The kill switch: a held call is denied, and so is the next call, at once.
      const heldWhenStopped = agent.callTool({
        name: "write_file",
        arguments: { path: path.join(sandbox.workspace, "stopped.txt"), content: "no" },
      });
      await page.locator("article.held").filter({ hasText: "stopped.txt" }).waitFor({ timeout: 20_000 });
      await page.click("nav button[data-view=kill]");
      await page.fill("#kill-reason", "the agent is misbehaving");
      await page.click("#kill-engage");
      await page.locator("#kill-state").filter({ hasText: "Everything is stopped" }).waitFor();
      await screenshot("kill-switch");
      const stoppedHeld = await heldWhenStopped;
      expect(stoppedHeld.isError).toBe(true);
      expect(textOf(stoppedHeld)).toContain("the agent is misbehaving");
      const after = await agent.callTool({
        name: "read_text_file",
        arguments: { path: target },
      });
      expect(after.isError).toBe(true);
      expect(textOf(after)).toContain("kill-switch");

      // The other views render from the API.
      await page.click("nav button[data-view=trace]");
      await page.locator("#timeline li.type-kill-switch").first().waitFor();
      await screenshot("trace");
      await page.click("nav button[data-view=constitution]");
      await page.locator("#rules-body td").filter({ hasText: "writes-need-a-person" }).waitFor();
      await page.click("nav button[data-view=integrity]");
      await page.locator("#integrity-status .ok").waitFor({ timeout: 20_000 });
      await page.click("nav button[data-view=overview]");
      await page.locator("#holds-chart svg rect").first().waitFor();
      await screenshot("overview");
      expect(await page.evaluate("window.__warden_pwned")).toBeUndefined();
    },
    180_000,
  );
});
