import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/** Where a relay directory appears inside the sandbox, and a Node binary to run the relay with. */
export const relayDirectoryInside = "/run/warden";
export const nodeInside = "/run/warden-node";

export interface LoopbackRelay {
  /** Host directory (bind it read-only at `relayDirectoryInside`); put Unix sockets here. */
  directory: string;
  /** The sandbox command: the relay, which then runs `command`. */
  wrap(command: readonly string[]): string[];
  readOnlyBinds: { source: string; target: string }[];
  remove(): void;
}

/**
 * The sandbox has a network namespace of its own with only loopback. A relay started as the
 * sandbox's command listens on 127.0.0.1:PORT for each `{port, socket}` and pipes connections to
 * the Unix socket `socket` (in the bind-mounted relay directory), then runs the real command and
 * exits with its status. Those sockets are the sandbox's only ways out.
 */
export function createLoopbackRelay(relays: readonly { port: number; socket: string }[]): LoopbackRelay {
  const directory = mkdtempSync(path.join(tmpdir(), "warden-relay-"));
  const script = `
const net = require("node:net");
const { spawn } = require("node:child_process");
const relays = ${JSON.stringify(relays.map((relay) => ({ port: relay.port, socket: `${relayDirectoryInside}/${relay.socket}` })))};
const command = process.argv.slice(2);
let listening = 0;
for (const relay of relays) {
  const server = net.createServer((client) => {
    const upstream = net.connect(relay.socket);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  server.listen(relay.port, "127.0.0.1", () => {
    if (++listening === relays.length) start();
  });
}
function start() {
  const child = spawn(command[0], command.slice(1), { stdio: "inherit" });
  child.on("error", (error) => {
    process.stderr.write("warden: cannot start " + command[0] + ": " + error.message + "\\n");
    process.exit(error.code === "ENOENT" ? 127 : 126);
  });
  child.on("exit", (code, signal) => process.exit(code ?? 128 + (require("node:os").constants.signals[signal] ?? 0)));
}
`;
  writeFileSync(path.join(directory, "relay.cjs"), script);
  return {
    directory,
    wrap: (command) => [nodeInside, `${relayDirectoryInside}/relay.cjs`, ...command],
    readOnlyBinds: [
      { source: directory, target: relayDirectoryInside },
      { source: process.execPath, target: nodeInside },
    ],
    remove: () => rmSync(directory, { recursive: true, force: true }),
  };
}
