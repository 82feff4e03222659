import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import path from "node:path";
import { afterEach, describe, expect } from "vitest";
import { openSandboxSession } from "../src/sandbox/index.js";
import { createSandboxFixture, sandboxIt } from "./helpers/sandbox.js";
import { TemporaryDirectories } from "./helpers/temporary-directories.js";

const directories = new TemporaryDirectories();
const servers: Server[] = [];
afterEach(() => {
  directories.removeAll();
  for (const server of servers.splice(0)) server.close();
});

/** Runs a shell snippet in a fresh session; the snippet prints ESCAPED when an attempt succeeds. */
async function attempt(script: string, setup?: (fixture: ReturnType<typeof createSandboxFixture>) => void) {
  const fixture = createSandboxFixture(directories);
  setup?.(fixture);
  const result = await fixture.session.run(["sh", "-c", script], { limits: { timeoutMs: 10_000 } });
  return { ...result, stdoutText: result.stdout.text.toString(), fixture };
}

describe("the sandbox's file system", () => {
  sandboxIt("does not show the host's /root", async () => {
    const hostEntries = existsSync("/root") ? safeReaddir("/root") : [];
    const { stdoutText } = await attempt("ls -A /root 2>/dev/null; true");
    for (const entry of hostEntries) expect(stdoutText.split("\n")).not.toContain(entry);
  });

  sandboxIt("shows an empty home directory when the home is the real one", async () => {
    const root = directories.create("warden-sandbox-");
    mkdirSync(path.join(root, "workspace"));
    const session = openSandboxSession({
      workspace: path.join(root, "workspace"),
      dataDir: path.join(root, "data"),
    });
    const result = await session.run(["sh", "-c", 'echo "home=$HOME"; ls -A "$HOME"']);
    expect(result.stdout.text.toString()).toBe(`home=${process.env.HOME ?? "/root"}\n`);
  });

  sandboxIt("hides files in $HOME such as ~/.ssh keys", async () => {
    const { stdoutText } = await attempt(
      'cat "$HOME/.ssh/id_ed25519" 2>/dev/null && echo ESCAPED; ls -A "$HOME"',
      ({ home }) => {
        mkdirSync(path.join(home, ".ssh"));
        writeFileSync(path.join(home, ".ssh/id_ed25519"), "PRIVATE KEY");
      },
    );
    expect(stdoutText).toBe("");
  });

  sandboxIt("hides Warden's data directory, its keys and the scratch layer", async () => {
    const { stdoutText } = await attempt(
      'cat "$DATA/signing-key.pem" 2>/dev/null && echo ESCAPED; ls -A "$DATA" 2>/dev/null | grep . && echo ESCAPED; ls -A /.warden 2>/dev/null | grep . && echo ESCAPED; true',
      ({ dataDir }) => {
        writeFileSync(path.join(dataDir, "signing-key.pem"), "SIGNING KEY");
        process.env.DATA = dataDir;
      },
    ).finally(() => {
      delete process.env.DATA;
    });
    expect(stdoutText).not.toContain("ESCAPED");
  });

  sandboxIt("passes the data directory's path only when asked, and even then cannot read it", async () => {
    const fixture = createSandboxFixture(directories);
    writeFileSync(path.join(fixture.dataDir, "operator.token"), "TOKEN");
    const result = await fixture.session.run(["sh", "-c", 'cat "$DATA/operator.token" || true'], {
      environment: { DATA: fixture.dataDir },
    });
    expect(result.stdout.text.toString()).toBe("");
  });

  sandboxIt("cannot read /etc/shadow or the host's real /etc/passwd", async () => {
    const { stdoutText } = await attempt(
      "cat /etc/shadow 2>/dev/null && echo ESCAPED; cut -d: -f1 /etc/passwd",
    );
    expect(stdoutText).toBe("root\nnobody\n");
  });

  sandboxIt("cannot write to an absolute path outside the workspace", async () => {
    const outside = directories.create("warden-outside-");
    const { fixture } = await attempt(
      `echo x > ${outside}/absolute.txt; echo x > /usr/escape.txt; echo x > ../escape.txt; echo x > /proc/self/root${outside}/proc-root.txt; true`,
    );
    expect(readdirSync(outside)).toEqual([]);
    expect(existsSync("/usr/escape.txt")).toBe(false);
    expect(readdirSync(path.dirname(fixture.workspace)).sort()).toEqual(["data", "home", "workspace"]);
  });

  sandboxIt("cannot write outside through a symlink it creates in the workspace", async () => {
    const outside = directories.create("warden-outside-");
    const { fixture } = await attempt(
      `ln -s ${outside} link; echo x > link/through-link.txt; ln -s ${outside}/dangling.txt dangling; echo x > dangling; true`,
    );
    expect(readdirSync(outside)).toEqual([]);
    expect(existsSync(path.join(fixture.workspace, "link"))).toBe(false);
  });

  sandboxIt("cannot hard-link host files into the workspace", async () => {
    const { stdoutText } = await attempt(
      "ln /etc/passwd passwd-link 2>/dev/null && cat passwd-link | grep -v -e '^root' -e '^nobody' && echo ESCAPED; true",
    );
    expect(stdoutText).not.toContain("ESCAPED");
  });

  sandboxIt("sees only a minimal /dev and cannot create device nodes", async () => {
    const { stdoutText } = await attempt(
      "for device in /dev/vda /dev/sda /dev/nvme0n1 /dev/mem /dev/kmsg; do test -e $device && echo ESCAPED $device; done; mknod disk b 8 0 2>/dev/null && echo ESCAPED mknod; true",
    );
    expect(stdoutText).toBe("");
  });
});

describe("the sandbox's privileges", () => {
  sandboxIt(
    "runs the command with no capabilities and no new privileges, so setuid binaries gain nothing",
    async () => {
      const { stdoutText } = await attempt(
        "grep -E '^(CapEff|CapPrm|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status",
      );
      expect(stdoutText).toBe(
        "CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n",
      );
    },
  );

  sandboxIt("cannot see or signal host processes", async () => {
    const { stdoutText } = await attempt(
      `kill -0 ${process.pid} 2>/dev/null && echo ESCAPED; ls /proc | grep -E '^[0-9]+$' | wc -l`,
    );
    expect(stdoutText).not.toContain("ESCAPED");
    expect(Number(stdoutText.trim())).toBeLessThan(10);
  });

  sandboxIt("does not inherit secrets from Warden's environment", async () => {
    process.env.SECRET_TOKEN = "sk-live-do-not-leak";
    try {
      const { stdoutText } = await attempt("env");
      expect(stdoutText).not.toContain("sk-live-do-not-leak");
      expect(stdoutText).not.toContain("SECRET_TOKEN");
      const names = stdoutText
        .trim()
        .split("\n")
        .map((line) => line.split("=")[0])
        .filter((name) => name !== "PWD" && name !== "SHLVL" && name !== "_");
      expect(names.sort()).toEqual(["HOME", "LANG", "PATH", ...(process.env.TERM ? ["TERM"] : [])].sort());
    } finally {
      delete process.env.SECRET_TOKEN;
    }
  });
});

describe("the sandbox's network", () => {
  sandboxIt("cannot connect to PostgreSQL on the host's 127.0.0.1:5432", async () => {
    const { stdoutText, stderr } = await attempt(
      "bash -c 'echo > /dev/tcp/127.0.0.1/5432' 2>/dev/null && echo ESCAPED; true",
    );
    expect(stdoutText, stderr.text.toString()).not.toContain("ESCAPED");
  });

  sandboxIt("cannot connect to a TCP server listening on the host's loopback", async () => {
    const server = createServer((socket) => socket.end("hello from the host\n"));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    const { stdoutText } = await attempt(`bash -c 'cat < /dev/tcp/127.0.0.1/${port}' 2>/dev/null; true`);
    expect(stdoutText).not.toContain("hello from the host");
  });

  sandboxIt("cannot resolve names or reach the internet", async () => {
    const { stdoutText } = await attempt(
      "getent hosts example.com && echo ESCAPED; bash -c 'echo > /dev/tcp/1.1.1.1/53' 2>/dev/null && echo ESCAPED; ls /sys/class/net 2>/dev/null; true",
    );
    expect(stdoutText).not.toContain("ESCAPED");
  });
});

function safeReaddir(directory: string): string[] {
  try {
    return readdirSync(directory);
  } catch {
    return [];
  }
}
