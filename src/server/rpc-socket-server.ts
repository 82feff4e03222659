import { timingSafeEqual } from "node:crypto";
import { chmodSync, existsSync, unlinkSync } from "node:fs";
import net from "node:net";
import { toWireError, WardenError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { parseStrictJson } from "../core/strict-json.js";
import {
  maxRpcLineBytes,
  type RpcMethod,
  type RpcRole,
  rpcMethodRoles,
  rpcParamSchemas,
  rpcRequestSchema,
} from "./rpc-protocol.js";

export type RpcHandlers = {
  [M in Exclude<RpcMethod, "hello">]: (params: unknown, context: { role: RpcRole }) => Promise<unknown>;
};

export interface RpcSocketServer {
  close(): Promise<void>;
}

/**
 * Serves the daemon's local API on a Unix socket (mode 0600 inside the 0700 data directory,
 * so only the daemon's own user can connect).
 */
export async function startRpcSocketServer(options: {
  socketPath: string;
  operatorToken: string;
  handlers: RpcHandlers;
  logger: Logger;
}): Promise<RpcSocketServer> {
  const { socketPath, logger } = options;
  const expectedToken = Buffer.from(options.operatorToken);
  const connections = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    connections.add(socket);
    socket.on("close", () => connections.delete(socket));
    socket.on("error", () => socket.destroy());
    let role: RpcRole | null = null;
    let buffered = "";
    let discarding = false;

    const respond = (message: unknown) => {
      if (!socket.destroyed) socket.write(`${JSON.stringify(message)}\n`);
    };

    const handleLine = async (line: string) => {
      let id: string | number | null = null;
      try {
        const request = rpcRequestSchema.parse(parseStrictJson(line));
        id = request.id;
        if (!Object.hasOwn(rpcParamSchemas, request.method)) {
          throw new WardenError("not-found", `unknown method "${request.method}"`);
        }
        const method = request.method as RpcMethod;
        if (method === "hello") {
          const hello = rpcParamSchemas.hello.safeParse(request.params);
          if (!hello.success) throw new WardenError("input-invalid", "invalid params for hello");
          if (hello.data.role === "operator") {
            const given = Buffer.from(hello.data.token ?? "");
            if (given.length !== expectedToken.length || !timingSafeEqual(given, expectedToken)) {
              throw new WardenError("unauthorized", "the operator token is missing or wrong");
            }
          }
          role = hello.data.role;
          respond({ id, result: { role } });
          return;
        }
        // Authorise before looking at the params: an unauthorised peer learns nothing more.
        if (role === null) throw new WardenError("unauthorized", "say hello first");
        if (!rpcMethodRoles[method].includes(role)) {
          throw new WardenError("forbidden", `the ${role} role may not call ${method}`);
        }
        const parsed = rpcParamSchemas[method].safeParse(request.params);
        if (!parsed.success) {
          const issues = parsed.error.issues.map(
            (issue) => `${issue.path.join(".") || "params"}: ${issue.message}`,
          );
          throw new WardenError("input-invalid", `invalid params for ${method}: ${issues.join("; ")}`);
        }
        const result = await options.handlers[method](parsed.data, { role });
        respond({ id, result: result ?? null });
      } catch (error) {
        if (!WardenError.isInstance(error)) {
          const message = error instanceof Error ? error.message : String(error);
          if (error instanceof Error && error.name === "ZodError") {
            respond({
              id,
              error: { code: "input-invalid", message: `invalid request: ${message.split("\n")[0]}` },
            });
            return;
          }
          logger.error({ error: message }, "rpc handler failed");
        }
        respond({ id, error: toWireError(error) });
      }
    };

    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      buffered += chunk;
      for (;;) {
        const newline = buffered.indexOf("\n");
        if (newline === -1) break;
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (discarding) {
          discarding = false;
          continue;
        }
        if (line.trim().length > 0) void handleLine(line);
      }
      if (buffered.length > maxRpcLineBytes) {
        // Drop the rest of this oversized line instead of buffering without bound; answer it once.
        if (!discarding) {
          respond({
            id: null,
            error: { code: "input-invalid", message: `request line exceeds ${maxRpcLineBytes} bytes` },
          });
        }
        buffered = "";
        discarding = true;
      }
    });
  });

  if (existsSync(socketPath)) unlinkSync(socketPath);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => {
      server.off("error", reject);
      resolve();
    });
  });
  chmodSync(socketPath, 0o600);
  return {
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of connections) socket.destroy();
      });
    },
  };
}
