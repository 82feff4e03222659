import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { createProgram } from "../src/cli/main.js";
import { runWarden, wardenBinary } from "./helpers/mcp-client.js";

const scratch = mkdtempSync(path.join(tmpdir(), "warden-cli-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Every command and subcommand the program defines, so a new command cannot go without help. */
const commands: string[][] = createProgram().commands.flatMap((command) =>
  command.commands.length === 0
    ? [[command.name()]]
    : command.commands.map((sub) => [command.name(), sub.name()]),
);

/** Group commands whose help is a list of subcommands or a plain status line. */
const withoutExample = new Set(["approvals list", "approvals approve", "approvals deny", "status"]);

function runWardenAsync(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [wardenBinary, ...args], {
      env: { ...process.env, WARDEN_NO_PAGER: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.on("close", (code) => resolve({ code, stdout }));
  });
}

describe("the warden command line", () => {
  it("prints help with an example for every command and exits 0", async () => {
    expect(commands.length).toBeGreaterThan(20);
    const missingExample: string[] = [];
    // Four at a time: each is a process start.
    for (let start = 0; start < commands.length; start += 4) {
      const batch = commands.slice(start, start + 4);
      const results = await Promise.all(batch.map((command) => runWardenAsync([...command, "--help"])));
      results.forEach((result, index) => {
        const name = batch[index]!.join(" ");
        expect(result.code, name).toBe(0);
        expect(result.stdout, name).toMatch(/Usage: warden/);
        if (!withoutExample.has(name) && !/Example/.test(result.stdout)) missingExample.push(name);
      });
    }
    expect(missingExample).toEqual([]);
  }, 180_000);

  it("exits 2 with a clear message on an unknown command or option", () => {
    const unknown = runWarden(["frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command/);
    const badOption = runWarden(["log", "--no-such-option"]);
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toMatch(/unknown option/);
  });

  it("verify exits 2 where there is no store and creates nothing", () => {
    const dataDir = path.join(scratch, "nothing-here");
    const result = runWarden(["verify", "--data-dir", dataDir]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no Warden store/);
    expect(existsSync(dataDir)).toBe(false);
  });

  it("log and trace exit 2 where there is no store", () => {
    expect(runWarden(["log", "--data-dir", path.join(scratch, "none")]).code).toBe(2);
    expect(runWarden(["trace", "s", "--data-dir", path.join(scratch, "none")]).code).toBe(2);
  });

  it("reviewer commands fail clearly when no daemon runs", () => {
    const result = runWarden(["approvals", "list", "--data-dir", path.join(scratch, "no-daemon")]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/no Warden daemon is running/);
  });

  it("policy check prints one line per problem as path: message and exits 1", () => {
    const file = path.join(scratch, "bad.yaml");
    writeFileSync(file, "version: 1\nrules:\n  - id: a\n    when: 'tool.name == \"x\"'\n    effect: maybe\n");
    const result = runWarden(["policy", "check", file]);
    expect(result.code).toBe(1);
    const lines = result.stdout.trim().split("\n");
    expect(lines.some((line) => /^default: /.test(line))).toBe(true);
    expect(lines.some((line) => /^rules\[0\]\.effect: /.test(line))).toBe(true);
  });

  it("policy check accepts the example constitutions", () => {
    for (const file of ["policies/example.yaml", "policies/demo.yaml"]) {
      const result = runWarden(["policy", "check", file]);
      expect(result.code, result.stdout + result.stderr).toBe(0);
    }
  });

  it("policy test reports passing and failing cases and exits 1 on a failure", () => {
    const policy = path.join(scratch, "p.yaml");
    writeFileSync(
      policy,
      "version: 1\ndefault: deny\nrules:\n  - id: reads\n    when: 'tool.name == \"read\"'\n    effect: allow\n",
    );
    const cases = path.join(scratch, "cases.yaml");
    writeFileSync(
      cases,
      `cases:
  - name: reads are allowed
    input: { tool: { server: files, name: read, arguments: {} } }
    expect: { effect: allow, ruleId: reads }
  - name: this expectation is wrong on purpose
    input: { tool: { server: files, name: write, arguments: {} } }
    expect: { effect: allow }
`,
    );
    const result = runWarden(["policy", "test", "--policy", policy, cases]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/pass\s+reads are allowed/);
    expect(result.stdout).toMatch(/FAIL\s+this expectation is wrong on purpose/);
  });

  it("never crashes or prints a stack trace, whatever the arguments", () => {
    const words = fc.constantFrom(
      "log",
      "verify",
      "trace",
      "policy",
      "check",
      "test",
      "approvals",
      "approve",
      "--json",
      "--data-dir",
      "--limit",
      "--type",
      "-f",
      "--reason",
      "x",
      "",
      "--",
      "tool-call",
      "💥",
      "--policy",
      "../..",
    );
    fc.assert(
      fc.property(fc.array(words, { maxLength: 5 }), (args) => {
        if (args.includes("-f")) return;
        const dataDir = path.join(scratch, "fuzz");
        const result = runWarden(args, { env: { WARDEN_HOME: dataDir } });
        expect([0, 1, 2]).toContain(result.code);
        expect(result.stderr).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/);
      }),
      { numRuns: 25 },
    );
    expect(
      existsSync(path.join(scratch, "fuzz")) ? readdirSync(path.join(scratch, "fuzz")) : [],
    ).not.toContain("events.sqlite");
  });
});

describe("output to a closed pipe", () => {
  it("ends quietly when the reader stops early (warden log | head)", async () => {
    const { spawnSync } = await import("node:child_process");
    const { wardenBinary } = await import("./helpers/mcp-client.js");
    const { SqliteEventStore } = await import("../src/store/sqlite/sqlite-event-store.js");
    const { sampleToolCall } = await import("../src/store/event-store-conformance.js");
    const dataDir = path.join(scratch, "pipe");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(dataDir, { recursive: true });
    const store = new SqliteEventStore({ file: path.join(dataDir, "events.sqlite") });
    await Promise.all(Array.from({ length: 3000 }, (_, index) => store.append(sampleToolCall(index))));
    await store.close();
    const result = spawnSync(
      "bash",
      [
        "-c",
        `node ${JSON.stringify(wardenBinary)} log --json --data-dir ${JSON.stringify(dataDir)} | head -1; exit \${PIPESTATUS[0]}`,
      ],
      {
        encoding: "utf8",
      },
    );
    expect(result.stdout.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).not.toMatch(/EPIPE|at .+:\d+:\d+/);
    expect(result.status).toBe(0);
  });
});
