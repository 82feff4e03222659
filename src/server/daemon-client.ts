import net from "node:net";
import { WardenError, type WardenErrorCode } from "../core/errors.js";
import type {
  CallIdentity,
  CallVerdict,
  Oversight,
  ToolCallRequest,
  ToolDefinitionsCheck,
} from "../core/oversight.js";
import type { RpcMethod, RpcRole } from "./rpc-protocol.js";

interface PendingCall {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/**
 * A connection to the daemon's Unix socket. Calls are multiplexed by id; if the connection
 * drops, every pending call fails (callers deny) and the next call reconnects.
 */
export class DaemonClient implements Oversight {
  readonly #socketPath: string;
  readonly #role: RpcRole;
  readonly #token: string | undefined;
  #socket: net.Socket | null = null;
  #connecting: Promise<net.Socket> | null = null;
  #nextId = 1;
  readonly #pending = new Map<number, PendingCall>();

  constructor(options: { socketPath: string; role: RpcRole; token?: string }) {
    this.#socketPath = options.socketPath;
    this.#role = options.role;
    this.#token = options.token;
  }

  async call<T = unknown>(method: RpcMethod, params?: unknown): Promise<T> {
    const socket = await this.#connect();
    return this.#send(socket, method, params) as Promise<T>;
  }

  decideToolCall(request: ToolCallRequest): Promise<CallVerdict> {
    return this.call<CallVerdict>("decide-tool-call", request);
  }

  async recordToolResult(
    identity: CallIdentity,
    result: { callId: string; isError: boolean; latencyMs: number; result: unknown },
  ): Promise<void> {
    await this.call("record-tool-result", { identity: pickIdentity(identity), result });
  }

  checkToolDefinitions(
    identity: CallIdentity,
    server: string,
    tools: { name: string; definition: unknown }[],
  ): Promise<ToolDefinitionsCheck> {
    return this.call<ToolDefinitionsCheck>("check-tool-definitions", {
      identity: pickIdentity(identity),
      server,
      tools,
    });
  }

  close(): void {
    this.#socket?.destroy();
    this.#socket = null;
  }

  #connect(): Promise<net.Socket> {
    if (this.#socket && !this.#socket.destroyed) return Promise.resolve(this.#socket);
    this.#connecting ??= new Promise<net.Socket>((resolve, reject) => {
      const socket = net.createConnection(this.#socketPath);
      socket.setEncoding("utf8");
      let buffered = "";
      socket.on("data", (chunk: string) => {
        buffered += chunk;
        for (;;) {
          const newline = buffered.indexOf("\n");
          if (newline === -1) break;
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          this.#receive(line);
        }
      });
      socket.on("close", () => {
        if (this.#socket === socket) this.#socket = null;
        const error = new WardenError("daemon-unreachable", "the connection to the Warden daemon closed");
        for (const pending of this.#pending.values()) pending.reject(error);
        this.#pending.clear();
      });
      socket.once("error", (error) => {
        this.#connecting = null;
        reject(
          new WardenError(
            "daemon-unreachable",
            `cannot reach the Warden daemon at ${this.#socketPath}: ${error.message}`,
          ),
        );
      });
      socket.once("connect", () => {
        socket.on("error", () => socket.destroy());
        this.#send(socket, "hello", {
          role: this.#role,
          ...(this.#token ? { token: this.#token } : {}),
        }).then(
          () => {
            this.#socket = socket;
            this.#connecting = null;
            resolve(socket);
          },
          (error: Error) => {
            this.#connecting = null;
            socket.destroy();
            reject(error);
          },
        );
      });
    });
    return this.#connecting;
  }

  #send(socket: net.Socket, method: RpcMethod, params: unknown): Promise<unknown> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      socket.write(`${JSON.stringify({ id, method, params: params ?? {} })}\n`);
    });
  }

  #receive(line: string): void {
    let message: { id?: number; result?: unknown; error?: { code: WardenErrorCode; message: string } };
    try {
      message = JSON.parse(line);
    } catch {
      return;
    }
    if (typeof message.id !== "number") return;
    const pending = this.#pending.get(message.id);
    if (!pending) return;
    this.#pending.delete(message.id);
    if (message.error) pending.reject(new WardenError(message.error.code, message.error.message));
    else pending.resolve(message.result);
  }
}

function pickIdentity(identity: CallIdentity): CallIdentity {
  return {
    agentId: identity.agentId,
    sessionId: identity.sessionId,
    traceId: identity.traceId,
    spanId: identity.spanId,
  };
}
