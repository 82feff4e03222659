import { readdirSync, readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { findBubblewrap } from "../src/sandbox/find-bubblewrap.js";
import { openSandboxSession, SandboxUnavailableError } from "../src/sandbox/index.js";
import { createSandboxFixture, sandboxIt } from "./helpers/sandbox.js";
import { TemporaryDirectories } from "./helpers/temporary-directories.js";

const directories = new TemporaryDirectories();
afterEach(() => directories.removeAll());

/** Host processes whose command line is exactly these arguments. */
function hostProcessesRunning(...argv: string[]): number[] {
  const wanted = `${argv.join("\0")}\0`;
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8") === wanted) found.push(Number(entry));
    } catch {}
  }
  return found;
}

describe("the sandbox's limits", () => {
  sandboxIt(
    "kills the whole process tree, forked and detached grandchildren included, on timeout",
    async () => {
      const { session } = createSandboxFixture(directories);
      const started = performance.now();
      const result = await session.run(
        [
          "sh",
          "-c",
          "sleep 987651 & setsid sleep 987652 & nohup sleep 987653 >/dev/null 2>&1 & sleep 987654",
        ],
        { limits: { timeoutMs: 500 } },
      );
      expect(result.timedOut).toBe(true);
      expect(performance.now() - started).toBeLessThan(5_000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      for (const seconds of ["987651", "987652", "987653", "987654"])
        expect(hostProcessesRunning("sleep", seconds), `sleep ${seconds} survived`).toEqual([]);
    },
  );

  sandboxIt("stops a fork bomb at the process limit", async () => {
    const { session } = createSandboxFixture(directories);
    const bomb = await session.run(
      ["sh", "-c", "i=0; while [ $i -lt 200 ]; do sleep 5 & i=$((i+1)); echo $i > started; done"],
      { limits: { processes: 30, timeoutMs: 10_000 } },
    );
    expect(bomb.stderr.text.toString()).toMatch(/fork/i);
    const started = Number((await session.run(["cat", "started"])).stdout.text.toString());
    expect(started).toBeGreaterThan(5);
    expect(started).toBeLessThan(30);
  });

  sandboxIt("survives a real fork bomb and leaves nothing behind", async () => {
    const { session } = createSandboxFixture(directories);
    const result = await session.run(["bash", "-c", "bomb() { bomb | bomb & }; bomb; sleep 987655"], {
      limits: { processes: 64, timeoutMs: 2_000 },
    });
    expect(result.timedOut).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(hostProcessesRunning("sleep", "987655")).toEqual([]);
  });

  sandboxIt("stops a memory bomb at the memory limit", async () => {
    const { session } = createSandboxFixture(directories);
    const result = await session.run(
      ["sh", "-c", 'x=$(head -c 400000000 /dev/zero | tr "\\0" a); [ -n "$x" ] && echo allocated'],
      { limits: { memoryBytes: 128 * 1024 ** 2, timeoutMs: 20_000 } },
    );
    expect(result.stdout.text.toString()).not.toContain("allocated");
    expect(result.exitCode).not.toBe(0);
  });

  sandboxIt("keeps only the output limit of a flood and says how much it dropped", async () => {
    const { session } = createSandboxFixture(directories);
    const result = await session.run(["sh", "-c", "head -c 5000000 /dev/zero; head -c 3000 /dev/zero >&2"], {
      limits: { outputBytes: 1000 },
    });
    expect(result.exitCode).toBe(0);
    expect(result.stdout.text.length).toBe(1000);
    expect(result.stdout.droppedBytes).toBe(4_999_000);
    expect(result.stderr.text.length).toBe(1000);
    expect(result.stderr.droppedBytes).toBe(2000);
  });

  sandboxIt("passes the command's exit code and reports death by signal as 128 + signal", async () => {
    const { session } = createSandboxFixture(directories);
    expect((await session.run(["sh", "-c", "exit 42"])).exitCode).toBe(42);
    expect((await session.run(["sh", "-c", "kill -9 $$"])).exitCode).toBe(137);
  });
});

describe("a host without a usable sandbox", () => {
  it("refuses to run when bubblewrap is not on PATH, and says how to install it", () => {
    expect(() => findBubblewrap("/nonexistent")).toThrow(SandboxUnavailableError);
    expect(() => findBubblewrap("/nonexistent")).toThrow(/apt-get install -y bubblewrap/);
  });

  it("refuses to run, rather than running unsandboxed, when the bwrap binary cannot be started", async () => {
    const root = directories.create("warden-sandbox-");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(`${root}/workspace`);
    const session = openSandboxSession({
      workspace: `${root}/workspace`,
      dataDir: `${root}/data`,
      home: `${root}/home`,
      bubblewrap: "/nonexistent/bwrap",
    });
    await expect(session.run(["touch", `${root}/ran-unsandboxed`])).rejects.toThrow(/bubblewrap/);
    const { existsSync } = await import("node:fs");
    expect(existsSync(`${root}/ran-unsandboxed`)).toBe(false);
  });

  it("explains a bubblewrap that cannot create namespaces", async () => {
    const root = directories.create("warden-sandbox-");
    const { mkdirSync, writeFileSync } = await import("node:fs");
    mkdirSync(`${root}/workspace`);
    // A stand-in for bwrap on a host where user namespaces are disabled.
    writeFileSync(
      `${root}/bwrap`,
      "#!/bin/sh\necho 'bwrap: No permissions to creating new namespace, likely because the kernel does not allow non-privileged user namespaces.' >&2\nexit 1\n",
      { mode: 0o755 },
    );
    const session = openSandboxSession({
      workspace: `${root}/workspace`,
      dataDir: `${root}/data`,
      home: `${root}/home`,
      bubblewrap: `${root}/bwrap`,
    });
    await expect(session.run(["true"])).rejects.toThrow(/user namespaces/);
  });
});
