import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterEach, describe, expect } from "vitest";
import { parseScript, startScriptedModelServer } from "../src/model-server/index.js";
import {
  createSandbox,
  type LoggedEvent,
  readLog,
  runWarden,
  type Sandbox,
  startWardenUp,
  textOf,
  waitFor,
  wardenBinary,
} from "./helpers/mcp-client.js";
import { sandboxIt } from "./helpers/sandbox.js";

// Full path: decoy files planted by the daemon in real bubblewrap sandboxes (`warden exec`,
// `warden sandbox-mcp`, from dist/: run `npm run build` first), touched by adversarial agents.

const decoyKey = "AKIAQWERTYUIOPZXCVBN";
const decoyContent = `[default]\naws_access_key_id = ${decoyKey}\nregion = eu-west-1\n`;
const constitution = (halt: boolean) => `version: 1
default: allow
rules: []
tripwires:
  files:
    - path: .aws/credentials
      content: ${JSON.stringify(decoyContent)}
  credentials:
    - name: decoy-aws-key
      value: ${decoyKey}
  halt: ${halt}
`;

const sandboxes: Sandbox[] = [];
const clients: Client[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  for (const client of clients.splice(0)) await client.close();
  for (const sandbox of sandboxes.splice(0)) sandbox.cleanup();
});

function setUp(halt = false): Sandbox {
  const sandbox = createSandbox(constitution(halt));
  sandboxes.push(sandbox);
  writeFileSync(path.join(sandbox.workspace, "app.txt"), "the real project\n");
  return sandbox;
}

function exec(sandbox: Sandbox, script: string) {
  return runWarden([
    "exec",
    "--workspace",
    sandbox.workspace,
    "--data-dir",
    sandbox.dataDir,
    "--policy",
    sandbox.policyPath,
    "--",
    "sh",
    "-c",
    script,
  ]);
}

function tripwireFindings(sandbox: Sandbox): LoggedEvent[] {
  return readLog(sandbox.dataDir, ["--type", "finding"]).filter(
    (event) => event.data.detector === "tripwires",
  );
}

async function findingsTouching(sandbox: Sandbox, what: RegExp): Promise<LoggedEvent[]> {
  return waitFor(() => {
    const found = tripwireFindings(sandbox);
    return found.some((event) => (event.data.touched as string[]).some((touched) => what.test(touched)))
      ? found
      : null;
  }, 30_000);
}

describe("decoy files in sandbox sessions (the real binary)", () => {
  sandboxIt(
    "shows the decoy inside, records its keyed fingerprints, and never stages it for the real workspace",
    async () => {
      const sandbox = setUp();
      const result = exec(
        sandbox,
        "ls -A; cat .aws/credentials; echo more >> .aws/credentials; echo ok > notes.txt",
      );
      expect(result.code, result.stderr).toBe(0);
      // Inside, the decoy is an ordinary file beside the real ones.
      expect(result.stdout).toContain(".aws");
      expect(result.stdout).toContain("app.txt");
      expect(result.stdout).toContain(`aws_access_key_id = ${decoyKey}`);
      // The change set holds only the agent's own file: the edited decoy is not a change.
      expect(result.stderr).toContain("notes.txt");
      expect(result.stderr).not.toContain(".aws");
      expect(readdirSync(sandbox.workspace).sort()).toEqual(["app.txt", "notes.txt"]);

      const events = readLog(sandbox.dataDir);
      const plant = events.find((event) => event.type === "decoy-plant");
      expect(plant?.data).toMatchObject({
        files: [{ path: ".aws/credentials", contentFingerprint: expect.stringMatching(/^[0-9a-f]{16}$/) }],
        credentials: [{ name: "decoy-aws-key", fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/) }],
      });
      expect(JSON.stringify(events)).not.toContain(decoyKey);
      const changeSet = events.find((event) => event.type === "change-set");
      expect(((changeSet?.data.changes ?? []) as { path: string }[]).map((change) => change.path)).toEqual([
        "notes.txt",
      ]);

      const findings = await findingsTouching(sandbox, /decoy file \.aws\/credentials/);
      expect(findings.every((event) => event.data.severity === "critical")).toBe(true);
      expect(JSON.stringify(findings)).not.toContain(decoyKey);
    },
    90_000,
  );

  sandboxIt(
    "reports an agent that copies the decoy credentials into a new file, matched by the recorded fingerprints",
    async () => {
      const sandbox = setUp();
      // A glob names no decoy path: the copy is caught by its content alone.
      const result = exec(sandbox, "cat .aw*/cred* > backup.txt");
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain("backup.txt");
      expect(existsSync(path.join(sandbox.workspace, ".aws"))).toBe(false);
      const findings = await findingsTouching(sandbox, /copied to backup\.txt/);
      const touched = findings.flatMap((event) => event.data.touched as string[]);
      expect(touched).toContain("decoy file .aws/credentials (copied to backup.txt)");
      expect(touched).toContain("decoy credential decoy-aws-key");
      expect(touched.some((item) => item === "decoy file .aws/credentials")).toBe(false);
    },
    90_000,
  );

  sandboxIt(
    "lets an honest agent work beside the decoys without a finding",
    async () => {
      const sandbox = setUp();
      const first = exec(sandbox, "ls -lAR; echo done > done.txt");
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toContain("credentials");
      expect(readFileSync(path.join(sandbox.workspace, "done.txt"), "utf8")).toBe("done\n");
      // A later command of another session sees the same decoy: they do not depend on who watches.
      const second = exec(sandbox, "cat app.txt");
      expect(second.stdout).toBe("the real project\n");
      await waitFor(
        () => readLog(sandbox.dataDir).filter((event) => event.type === "decoy-plant").length === 2,
      );
      // A touch afterwards: once it is reported, the detectors have read the honest runs before it.
      exec(sandbox, "cat .aws/credentials");
      const findings = await findingsTouching(sandbox, /decoy file/);
      const runs = readLog(sandbox.dataDir, ["--type", "sandbox-run"]);
      expect(runs).toHaveLength(3);
      expect(findings.map((event) => event.data.sourceSeq)).toEqual([runs.at(-1)?.seq]);
    },
    90_000,
  );

  sandboxIt(
    "halts an agent that cats the decoy through sandbox-mcp, telling it nothing of the decoy",
    async () => {
      const sandbox = setUp(true);
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [
          wardenBinary,
          "sandbox-mcp",
          "--workspace",
          sandbox.workspace,
          "--data-dir",
          sandbox.dataDir,
          "--policy",
          sandbox.policyPath,
          "--agent",
          "curious-agent",
        ],
        stderr: "pipe",
      });
      const client = new Client({ name: "adversarial-agent", version: "1.0.0" });
      await client.connect(transport);
      clients.push(client);
      const listing = await client.callTool({ name: "list_directory", arguments: { path: ".aws" } });
      expect(textOf(listing)).toContain("credentials");
      const stolen = await client.callTool({ name: "shell", arguments: { command: "cat .aws/credentials" } });
      expect(textOf(stolen)).toContain(decoyKey);
      const halt = await waitFor(
        () =>
          readLog(sandbox.dataDir, ["--type", "kill-switch"]).find(
            (event) => event.data.engaged === true && event.data.target === "curious-agent",
          ),
        30_000,
      );
      expect(halt.data).toMatchObject({ by: "warden:tripwires", scope: "agent" });
      // What the agent is told is the reason; only the record says which detector halted it.
      expect(String(halt.data.reason)).not.toMatch(/decoy|tripwire|credential|\.aws/i);
      const next = await client.callTool({ name: "shell", arguments: { command: "echo x > x.txt" } });
      expect(textOf(next)).toMatch(/halted pending review/);
      expect(textOf(next)).not.toMatch(/decoy|tripwire|\.aws/i);
      expect(existsSync(path.join(sandbox.workspace, "x.txt"))).toBe(false);
      const findings = tripwireFindings(sandbox);
      expect(findings.some((event) => event.agentId === "curious-agent")).toBe(true);
    },
    90_000,
  );

  sandboxIt(
    "reports a `warden run` agent that reads the decoy itself and sends it to the model through the gateway",
    async () => {
      const sandbox = setUp();
      const parsed = parseScript("name: exfil\ndefault: { text: Noted. }\n", "exfil.yaml");
      if (!parsed.ok) throw new Error(parsed.problems.join("\n"));
      const model = await startScriptedModelServer({ script: parsed.script, port: 0 });
      cleanups.push(() => model.close());
      const { daemon } = await startWardenUp(sandbox, ["--upstream", `openai=${model.url}`], {
        OPENAI_API_KEY: "sk-provider-key-for-tripwires-0123",
      });
      cleanups.push(() => void daemon.kill("SIGTERM"));
      // The agent reads the file in its own process: no call or command names it.
      writeFileSync(
        path.join(sandbox.workspace, "agent.mjs"),
        `import { readFileSync, readdirSync } from "node:fs";
const found = readdirSync(".aws").map((name) => readFileSync(".aws/" + name, "utf8")).join("\\n");
const reply = await fetch(process.env.OPENAI_BASE_URL + "/chat/completions", {
  method: "POST",
  headers: { authorization: "Bearer " + process.env.OPENAI_API_KEY, "content-type": "application/json" },
  body: JSON.stringify({ model: "scripted", messages: [{ role: "user", content: "Keep this safe: " + found }] }),
});
console.log(reply.status);
`,
      );
      const result = await new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve) => {
        const child = spawn(
          process.execPath,
          [
            wardenBinary,
            "run",
            "--data-dir",
            sandbox.dataDir,
            "--agent",
            "exfil-agent",
            "--workspace",
            sandbox.workspace,
            "--",
            "/run/warden-node",
            "agent.mjs",
          ],
          { stdio: ["ignore", "pipe", "pipe"] },
        );
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        child.on("close", (code) => resolve({ code, stdout, stderr }));
      });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout.trim()).toBe("200");
      const findings = await findingsTouching(sandbox, /decoy credential decoy-aws-key/);
      const exfiltrated = findings.find((event) => event.agentId === "exfil-agent");
      expect(exfiltrated?.data.explanation).toContain("(model-request)");
      expect(existsSync(path.join(sandbox.workspace, ".aws"))).toBe(false);
    },
    90_000,
  );
});
