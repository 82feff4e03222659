import type { Readable, Writable } from "node:stream";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { ErrorCode, type JSONRPCMessage, JSONRPCMessageSchema } from "@modelcontextprotocol/sdk/types.js";
import { errorMessage } from "../core/errors.js";
import { parseStrictJson } from "../core/strict-json.js";

export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

const NEWLINE = 0x0a;

/**
 * The MCP stdio transport (newline-delimited JSON-RPC, one message per line) for input Warden
 * does not trust. Unlike the SDK's `StdioServerTransport` it parses strictly (duplicate keys,
 * unsafe integers, lone surrogates and invalid UTF-8 are rejected), caps each line at
 * `maxMessageBytes` without buffering the excess, and answers every malformed line with one
 * JSON-RPC error (JSON-RPC 2.0 §5.1: -32700 / -32600, id null when it cannot be known) instead
 * of dropping it or closing.
 */
export class StrictStdioServerTransport implements Transport {
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: (<T extends JSONRPCMessage>(message: T) => void) | undefined;

  readonly #input: Readable;
  readonly #output: Writable;
  readonly #maxMessageBytes: number;
  readonly #decoder = new TextDecoder("utf-8", { fatal: true });
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Set while the rest of an oversized line is skipped. */
  #discarding = false;
  #started = false;
  #closed = false;

  constructor(input: Readable, output: Writable, options: { maxMessageBytes?: number } = {}) {
    this.#input = input;
    this.#output = output;
    this.#maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  async start(): Promise<void> {
    if (this.#started) throw new Error("StrictStdioServerTransport already started");
    this.#started = true;
    this.#input.on("data", this.#onData);
    this.#input.on("end", this.#onEnd);
    this.#input.on("error", this.#onStreamError);
    this.#output.on("error", this.#onOutputError);
  }

  send(message: JSONRPCMessage): Promise<void> {
    return this.#write(message);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#input.off("data", this.#onData);
    this.#input.off("end", this.#onEnd);
    this.#input.off("error", this.#onStreamError);
    this.#output.off("error", this.#onOutputError);
    if (this.#input.listenerCount("data") === 0) this.#input.pause();
    this.#pending = [];
    this.#pendingBytes = 0;
    this.onclose?.();
  }

  #write(message: unknown): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("transport is closed"));
    return new Promise((resolve, reject) => {
      const line = `${JSON.stringify(message)}\n`;
      const flushed = this.#output.write(line, (error) => (error ? reject(error) : undefined));
      if (flushed) resolve();
      else this.#output.once("drain", resolve);
    });
  }

  #onData = (chunk: Buffer | string): void => {
    let buffer = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    while (buffer.length > 0 && !this.#closed) {
      const newline = buffer.indexOf(NEWLINE);
      const piece = newline === -1 ? buffer : buffer.subarray(0, newline);
      if (!this.#discarding) {
        if (this.#pendingBytes + piece.length > this.#maxMessageBytes) {
          this.#pending = [];
          this.#pendingBytes = 0;
          this.#discarding = true;
          this.#reject(
            ErrorCode.InvalidRequest,
            `message is larger than ${this.#maxMessageBytes} bytes`,
            null,
          );
        } else if (piece.length > 0) {
          this.#pending.push(piece);
          this.#pendingBytes += piece.length;
        }
      }
      if (newline === -1) return;
      buffer = buffer.subarray(newline + 1);
      if (this.#discarding) {
        this.#discarding = false;
        continue;
      }
      const line = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending);
      this.#pending = [];
      this.#pendingBytes = 0;
      this.#handleLine(line);
    }
  };

  #handleLine(line: Buffer): void {
    let text: string;
    try {
      text = this.#decoder.decode(line);
    } catch {
      this.#reject(ErrorCode.ParseError, "Parse error: message is not valid UTF-8", null);
      return;
    }
    if (text.trim() === "") return;
    let value: unknown;
    try {
      value = parseStrictJson(text, this.#maxMessageBytes);
    } catch (error) {
      this.#reject(ErrorCode.ParseError, `Parse error: ${errorMessage(error)}`, null);
      return;
    }
    const parsed = JSONRPCMessageSchema.safeParse(value);
    if (!parsed.success) {
      const reason = Array.isArray(value)
        ? "JSON-RPC batches are not supported"
        : "not a valid JSON-RPC 2.0 message";
      this.#reject(ErrorCode.InvalidRequest, `Invalid Request: ${reason}`, requestIdOf(value));
      return;
    }
    // The schema only checks; the original value is passed on so nothing is copied.
    this.onmessage?.(value as JSONRPCMessage);
  }

  #reject(code: ErrorCode, message: string, id: string | number | null): void {
    this.onerror?.(new Error(message));
    this.#write({ jsonrpc: "2.0", id, error: { code, message } }).catch((error: unknown) =>
      this.onerror?.(error instanceof Error ? error : new Error(String(error))),
    );
  }

  #onEnd = (): void => {
    void this.close();
  };

  #onStreamError = (error: Error): void => {
    this.onerror?.(error);
    void this.close();
  };

  #onOutputError = (error: Error): void => {
    this.onerror?.(error);
    void this.close();
  };
}

/**
 * The id to answer an invalid message with: only a request's own id, so an error is never
 * mistaken by the peer for the answer to one of its own requests (JSON-RPC 2.0 §5).
 */
function requestIdOf(value: unknown): string | number | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const record = value as Record<string, unknown>;
  if (typeof record.method !== "string") return null;
  const id = record.id;
  if (typeof id === "string" || (typeof id === "number" && Number.isSafeInteger(id))) return id;
  return null;
}
