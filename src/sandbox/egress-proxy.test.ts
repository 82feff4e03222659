import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { isInternalAddress, startEgressProxy } from "./egress-proxy.js";

const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

/** Sends `CONNECT authority` through the proxy's Unix socket; resolves to the status line's code. */
function connectThrough(socketPath: string, authority: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const sent = request({ socketPath, method: "CONNECT", path: authority });
    sent.on("connect", (response, socket) => {
      socket.destroy();
      resolve(response.statusCode ?? 0);
    });
    sent.on("response", (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    sent.on("error", reject);
    sent.end();
  });
}

describe("the egress proxy", () => {
  it("refuses an allowed name that resolves to this machine (no way back in through DNS)", async () => {
    const directory = mkdtempSync(path.join(tmpdir(), "warden-egress-"));
    directories.push(directory);
    // A service on the host that the sandbox must not reach.
    const hostService = createServer((socket) => socket.end("host secret\n"));
    await new Promise<void>((resolve) => hostService.listen(0, "127.0.0.1", resolve));
    const port = (hostService.address() as { port: number }).port;
    const proxy = await startEgressProxy(path.join(directory, "proxy.sock"), ["localhost", "example.com"]);
    try {
      expect(await connectThrough(path.join(directory, "proxy.sock"), `localhost:${port}`)).toBe(403);
      expect(proxy.attempts[0]).toMatchObject({ host: "localhost", allowed: false });
      expect(proxy.attempts[0]!.refused).toMatch(/resolves to an address on this machine/);
      // Names that are not listed and IP literals are refused before any lookup.
      expect(await connectThrough(path.join(directory, "proxy.sock"), `127.0.0.1:${port}`)).toBe(403);
      expect(await connectThrough(path.join(directory, "proxy.sock"), `other.test:${port}`)).toBe(403);
    } finally {
      await proxy.close();
      hostService.close();
    }
  });

  it("treats loopback, private, link-local and mapped addresses as internal, public ones not", () => {
    for (const address of [
      "127.0.0.1",
      "10.1.2.3",
      "172.16.0.9",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "::1",
      "::",
      "fe80::1",
      "fd00::5",
      "::ffff:127.0.0.1",
      "not-an-ip",
    ])
      expect(isInternalAddress(address), address).toBe(true);
    for (const address of ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
      expect(isInternalAddress(address), address).toBe(false);
  });
});
