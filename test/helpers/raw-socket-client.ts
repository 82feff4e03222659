import net from "node:net";

export interface RpcResponse {
  id: string | number | null;
  result?: unknown;
  error?: { code: string; message: string };
}

/**
 * A bare connection to the daemon's socket that writes whatever bytes a test wants and reads
 * back the response lines, one JSON object per line, in order.
 */
export class RawSocketClient {
  readonly #socket: net.Socket;
  readonly #responses: RpcResponse[] = [];
  readonly #waiters: ((response: RpcResponse) => void)[] = [];
  #buffered = "";
  #closed = false;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      this.#buffered += chunk;
      for (;;) {
        const newline = this.#buffered.indexOf("\n");
        if (newline === -1) break;
        const response = JSON.parse(this.#buffered.slice(0, newline)) as RpcResponse;
        this.#buffered = this.#buffered.slice(newline + 1);
        const waiter = this.#waiters.shift();
        if (waiter) waiter(response);
        else this.#responses.push(response);
      }
    });
    socket.on("close", () => {
      this.#closed = true;
    });
    socket.on("error", () => {});
  }

  static connect(socketPath: string): Promise<RawSocketClient> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(socketPath);
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new RawSocketClient(socket));
      });
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Writes text as is; the caller decides where lines end. */
  write(text: string): Promise<void> {
    return new Promise((resolve, reject) =>
      this.#socket.write(text, (error) => (error ? reject(error) : resolve())),
    );
  }

  next(timeoutMs = 10_000): Promise<RpcResponse> {
    const ready = this.#responses.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.#waiters.indexOf(waiter);
        if (index !== -1) this.#waiters.splice(index, 1);
        reject(new Error(`no response within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (response: RpcResponse) => {
        clearTimeout(timer);
        resolve(response);
      };
      this.#waiters.push(waiter);
    });
  }

  /** Sends one request line and waits for the next response. */
  async call(id: string | number, method: string, params?: unknown): Promise<RpcResponse> {
    await this.write(`${JSON.stringify({ id, method, params })}\n`);
    return this.next();
  }

  close(): void {
    this.#socket.destroy();
  }
}
