import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { JsonTraceSerializer, ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import type { ReadableSpan } from "@opentelemetry/sdk-trace";
import { Pool } from "undici";
import { errorMessage, WardenError } from "../../core/errors.js";
import type { EventStore } from "../../core/event-store.js";
import type { Logger } from "../../core/logger.js";
import { EventSpanAssembler } from "./event-spans.js";

export type OtlpProtocol = "http/protobuf" | "http/json";

export interface OtlpExporterOptions {
  store: EventStore;
  /** The collector's traces URL, e.g. http://127.0.0.1:4318/v1/traces. */
  endpoint: string;
  protocol?: OtlpProtocol;
  headers?: Record<string, string>;
  logger: Logger;
  /** Where the last exported position is kept across restarts. */
  cursorFile: string;
  serviceName?: string;
  pollMilliseconds?: number;
  batchSize?: number;
  /** A model or tool span whose other half has not come after this long is exported incomplete. */
  maxOpenMilliseconds?: number;
  now?: () => Date;
}

export interface OtlpExporter {
  /** Resolves once every event appended before the call has been read and its spans sent. */
  caughtUp(): Promise<void>;
  readonly exportedSpans: number;
  stop(): Promise<void>;
}

/**
 * Exports the record as OTLP traces, off the request path: it reads committed events after a
 * cursor on its own timer (like the detectors), so a slow or absent collector never delays a
 * call. A failed send is retried with back-off and the cursor does not move, so nothing is
 * skipped; after a restart export resumes at the oldest event of a span still open at the last
 * send (a span may then be sent twice: delivery is at least once, and backends key spans by id).
 */
export async function startOtlpExporter(options: OtlpExporterOptions): Promise<OtlpExporter> {
  const { store, logger } = options;
  const protocol = options.protocol ?? "http/protobuf";
  const serializer = protocol === "http/json" ? JsonTraceSerializer : ProtobufTraceSerializer;
  const url = new URL(options.endpoint);
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new WardenError("usage", `the OTLP endpoint must be an http(s) URL, not "${options.endpoint}"`);
  const pool = new Pool(url.origin, { connections: 2, keepAliveTimeout: 30_000 });
  const pollMilliseconds = options.pollMilliseconds ?? 1000;
  const batchSize = options.batchSize ?? 500;
  const maxOpenMilliseconds = options.maxOpenMilliseconds ?? 300_000;
  const now = options.now ?? (() => new Date());
  const assembler = new EventSpanAssembler(
    resourceFromAttributes({ "service.name": options.serviceName ?? "warden" }),
  );
  let cursor = readCursor(options.cursorFile);
  let exportedSpans = 0;
  let stopped = false;
  let failures = 0;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let waiting: (() => void)[] = [];
  let wakeFromBackoff = () => {};

  const send = async (spans: ReadableSpan[]): Promise<void> => {
    const body = serializer.serializeRequest(spans);
    if (body === undefined) throw new Error("the spans could not be serialised");
    const answer = await pool.request({
      method: "POST",
      path: `${url.pathname}${url.search}`,
      headers: {
        ...options.headers,
        "content-type": protocol === "http/json" ? "application/json" : "application/x-protobuf",
      },
      body: Buffer.from(body),
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    const text = await answer.body.text();
    if (answer.statusCode >= 300)
      throw new Error(`the collector answered ${answer.statusCode}: ${text.slice(0, 200)}`);
  };

  /** One turn: read what is new, send its spans, move the cursor. Returns whether it read anything. */
  const turn = async (): Promise<boolean> => {
    const events = await store.read({ afterSeq: cursor, limit: batchSize });
    const spans: ReadableSpan[] = [];
    for (const event of events) spans.push(...assembler.add(event));
    spans.push(...assembler.expire(now(), maxOpenMilliseconds));
    if (spans.length > 0) await send(spans);
    exportedSpans += spans.length;
    const last = events.at(-1)?.seq ?? cursor;
    cursor = last;
    const open = assembler.oldestOpenSeq;
    writeCursor(options.cursorFile, open === null ? last : Math.min(last, open - 1));
    return events.length > 0;
  };

  const loop = async (): Promise<void> => {
    while (!stopped) {
      let readSomething: boolean;
      try {
        readSomething = await turn();
        failures = 0;
      } catch (error) {
        failures++;
        const backoff = Math.min(30_000, 500 * 2 ** Math.min(failures, 6));
        if (failures === 1 || failures % 10 === 0)
          logger.warn(
            { error: errorMessage(error), failures, retryInMs: backoff },
            "OTLP export failed; retrying",
          );
        // The batch is read again from the same cursor next time: a fresh assembler state would
        // be needed to re-add its events, so restart from the persisted position.
        cursor = readCursor(options.cursorFile);
        assembler.reset();
        await new Promise<void>((resolve) => {
          const retry = setTimeout(resolve, backoff);
          retry.unref();
          wakeFromBackoff = () => {
            clearTimeout(retry);
            resolve();
          };
        });
        wakeFromBackoff = () => {};
        continue;
      }
      if (!readSomething) {
        const waiters = waiting;
        waiting = [];
        for (const waiter of waiters) waiter();
        return;
      }
    }
  };

  const schedule = () => {
    if (stopped || timer !== null) return;
    timer = setTimeout(() => {
      timer = null;
      running = loop().finally(() => {
        running = null;
        schedule();
      });
    }, pollMilliseconds);
    timer.unref();
  };
  schedule();

  return {
    get exportedSpans() {
      return exportedSpans;
    },
    caughtUp() {
      return new Promise((resolve) => {
        waiting.push(resolve);
        if (running === null && timer !== null) {
          clearTimeout(timer);
          timer = null;
          running = loop().finally(() => {
            running = null;
            schedule();
          });
        }
      });
    },
    async stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      wakeFromBackoff();
      await running;
      await pool.close();
      for (const waiter of waiting) waiter();
      waiting = [];
    },
  };
}

function readCursor(file: string): number {
  if (!existsSync(file)) return 0;
  try {
    const parsed = JSON.parse(readFileSync(file, "utf8")) as { afterSeq?: unknown };
    return typeof parsed.afterSeq === "number" && Number.isInteger(parsed.afterSeq) ? parsed.afterSeq : 0;
  } catch {
    return 0;
  }
}

function writeCursor(file: string, afterSeq: number): void {
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, `${JSON.stringify({ afterSeq })}\n`, { mode: 0o600 });
  renameSync(temporary, file);
}
