import { lookup } from "node:dns/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import net from "node:net";
import type { Duplex } from "node:stream";

/** A name `--allow-domain` accepts: `example.com` (that host only) or `*.example.com` (its subdomains). */
const domainPattern =
  /^(\*\.)?([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

export function checkAllowedDomain(domain: string): string | null {
  const lower = domain.toLowerCase();
  if (!domainPattern.test(lower))
    return `--allow-domain ${domain}: not a host name (example.com or *.example.com)`;
  return null;
}

export function isAllowedHost(host: string, allowed: readonly string[]): boolean {
  const lower = host.toLowerCase().replace(/\.$/, "");
  return allowed.some((domain) => {
    const rule = domain.toLowerCase();
    if (rule.startsWith("*.")) return lower.endsWith(rule.slice(1)) && lower.length > rule.length - 1;
    return lower === rule;
  });
}

/**
 * Addresses an allowed name must not resolve to: the host itself and its networks (loopback,
 * private, link-local, CGNAT, unspecified, multicast, and their IPv6 forms). An allowed domain
 * is a way out to the internet, never a way back into the machine or its LAN.
 */
const internalAddresses = new net.BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.168.0.0", 16],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const)
  internalAddresses.addSubnet(network, prefix, "ipv4");
for (const [network, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
] as const)
  internalAddresses.addSubnet(network, prefix, "ipv6");

export function isInternalAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 0) return true;
  // IPv4-mapped IPv6 (::ffff:127.0.0.1) is checked as the IPv4 address it carries.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return internalAddresses.check(mapped[1], "ipv4");
  return internalAddresses.check(address, family === 4 ? "ipv4" : "ipv6");
}

/**
 * Resolves an allowed name; refuses it when any of its addresses is internal (DNS rebinding
 * too), unless the operator allowed internal addresses.
 */
async function resolveTarget(
  host: string,
  allowInternal: boolean,
): Promise<{ address: string } | { refused: string }> {
  let addresses: { address: string }[];
  try {
    addresses = await lookup(host, { all: true, verbatim: true });
  } catch {
    return { refused: "the name does not resolve" };
  }
  if (addresses.length === 0) return { refused: "the name does not resolve" };
  if (!allowInternal && addresses.some(({ address }) => isInternalAddress(address)))
    return { refused: "the name resolves to an address on this machine or its network" };
  return { address: addresses[0]!.address };
}

export interface EgressProxy {
  /** Decisions so far, for the record: host, port, allowed. */
  readonly attempts: { host: string; port: number; allowed: boolean; refused?: string }[];
  close(): Promise<void>;
}

/**
 * The sandbox's only way to the network when domains are allowed: an HTTP proxy on a Unix socket
 * (bind-mounted into the sandbox and relayed to 127.0.0.1 there) that tunnels `CONNECT host:port`
 * for allowed host names only. Names are resolved here, outside, so the sandbox needs no DNS, and
 * an IP literal is never allowed (only names are listed). Plain-HTTP proxy requests are refused:
 * the tunnel carries TLS end to end, and Warden never sees or alters the content.
 */
export async function startEgressProxy(
  socketPath: string,
  allowed: readonly string[],
  options: { allowInternalAddresses?: boolean } = {},
): Promise<EgressProxy> {
  const attempts: EgressProxy["attempts"] = [];
  const sockets = new Set<Duplex>();
  const server: Server = createServer((request, response) => {
    response.writeHead(403, { "content-type": "text/plain" });
    response.end("Warden's egress proxy only tunnels CONNECT to allowed domains\n");
    request.resume();
  });
  server.on(
    "connect",
    (request: IncomingMessage, client: Duplex, head: Buffer) => void tunnel(request, client, head),
  );
  const tunnel = async (request: IncomingMessage, client: Duplex, head: Buffer) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => client.destroy());
    const target = parseAuthority(request.url ?? "");
    const allowedTarget =
      target !== null && net.isIP(target.host) === 0 && isAllowedHost(target.host, allowed);
    const attempt: EgressProxy["attempts"][number] = {
      host: target?.host ?? String(request.url),
      port: target?.port ?? 0,
      allowed: allowedTarget,
    };
    attempts.push(attempt);
    if (!target || !allowedTarget) {
      client.end(
        "HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nWarden: this domain is not allowed for the sandbox\n",
      );
      return;
    }
    // Connect to the address that was checked, not the name again (a second lookup could differ).
    const resolved = await resolveTarget(target.host, options.allowInternalAddresses === true);
    if ("refused" in resolved) {
      attempt.allowed = false;
      attempt.refused = resolved.refused;
      client.end(
        `HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nWarden: ${target.host}: ${resolved.refused}\n`,
      );
      return;
    }
    if (client.destroyed) return;
    const upstream = net.connect(target.port, resolved.address, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    upstream.on("error", () => {
      if (!client.destroyed) client.end("HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\n\r\n");
    });
    client.on("close", () => upstream.destroy());
  };
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, resolve);
  });
  return {
    attempts,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function parseAuthority(authority: string): { host: string; port: number } | null {
  const match = /^([^:/\s]+):(\d{1,5})$/.exec(authority);
  if (!match?.[1] || !match[2]) return null;
  const port = Number(match[2]);
  if (port < 1 || port > 65_535) return null;
  return { host: match[1], port };
}
