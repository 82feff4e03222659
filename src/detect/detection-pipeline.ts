import { errorMessage } from "../core/errors.js";
import type { EventStore } from "../core/event-store.js";
import type { EventType, StoredEvent } from "../core/events.js";
import type { Logger } from "../core/logger.js";
import type { Detector, DetectorContext, DetectorReport } from "./detector.js";
import { appendReport } from "./record-reports.js";
import { reportedKeys } from "./report-keys.js";

export { findingKey } from "./report-keys.js";

export interface DetectionPipelineOptions {
  store: EventStore;
  detectors: readonly Detector[];
  logger: Logger;
  /** How long to wait before looking again once every event has been inspected (default 250). */
  pollMilliseconds?: number;
  /** Events read per turn; each turn blocks the event loop only this long (default 200). */
  batchSize?: number;
}

export interface DetectionPipeline {
  /** The seq of the last event the detectors have inspected. */
  readonly cursor: number;
  /** Resolves once every event appended before the call is inspected and its findings are durable. */
  caughtUp(): Promise<void>;
  stop(): Promise<void>;
}

/** Evaluation traffic: it never feeds production baselines (issue 7). */
export const evaluationAgentPrefix = "eval:";

/**
 * Reads new events from the store after a cursor, runs the detectors that read their types and
 * appends their findings as `finding` events (buffered: findings are model-traffic-like, never
 * on a request's path). Each finding records the event it is about as `sourceSeq`; on start the
 * pipeline resumes at the last finding's `sourceSeq`, re-inspects that one event and skips the
 * findings already written for it, so a restart neither repeats nor loses findings (detectors
 * are deterministic per event). A detector that throws is logged and skipped for that event.
 */
export async function startDetectionPipeline(options: DetectionPipelineOptions): Promise<DetectionPipeline> {
  const { store, detectors, logger } = options;
  const pollMilliseconds = options.pollMilliseconds ?? 250;
  const batchSize = options.batchSize ?? 200;
  const types = [...new Set(detectors.flatMap((detector) => detector.eventTypes))];
  const resume = await findResumePoint(store);
  let cursor = resume === null ? 0 : resume.sourceSeq - 1;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  /** Callers of caughtUp waiting for a drained turn that started after their call. */
  let waiting: (() => void)[] = [];

  const stateful = detectors.filter((detector) => detector.stateful === true);
  // Keys of reports already in the log: a replay or a lost-then-recomputed report is written once.
  const keys = await reportedKeys(store);

  const inspect = async (event: StoredEvent, only?: readonly Detector[]): Promise<void> => {
    const context: DetectorContext = { evaluation: event.agentId.startsWith(evaluationAgentPrefix) };
    for (const detector of only ?? detectors) {
      if (!detector.eventTypes.includes(event.type)) continue;
      let reports: readonly DetectorReport[];
      try {
        const result = detector.inspect(event, context);
        reports = isPromise(result) ? await result : result;
      } catch (error) {
        logger.error(
          { detector: detector.name, seq: event.seq, error: errorMessage(error) },
          "detector failed; event skipped for it",
        );
        continue;
      }
      for (const [ordinal, report] of reports.entries()) {
        const findingWritten =
          event.seq === resume?.sourceSeq && resume.reported.has(ordinalKey(detector.name, ordinal));
        try {
          await appendReport(store, { source: event, ordinal, report, keys, findingWritten });
        } catch (error) {
          logger.error(
            { detector: detector.name, seq: event.seq, error: errorMessage(error) },
            "could not record the detector's report; dropped",
          );
        }
      }
    }
  };

  /** One turn: inspects up to `batchSize` events; true when it drained everything committed. */
  const turn = async (): Promise<boolean> => {
    if (types.length === 0) return true;
    const events = await store.read({ afterSeq: cursor, limit: batchSize, types });
    for (const event of events) {
      if (stopped) return false;
      await inspect(event);
      cursor = event.seq;
    }
    return events.length < batchSize;
  };

  const schedule = (delay: number) => {
    if (stopped || timer !== null || running !== null) return;
    timer = setTimeout(() => {
      timer = null;
      const callers = waiting;
      waiting = [];
      running = turn().then(
        async (drained) => {
          running = null;
          if (drained) {
            if (callers.length > 0) await store.flush().catch(() => {});
            for (const resolve of callers) resolve();
          } else waiting.unshift(...callers);
          schedule(drained && waiting.length === 0 ? pollMilliseconds : 0);
        },
        (error: unknown) => {
          running = null;
          waiting.unshift(...callers);
          if (!stopped)
            logger.error({ error: errorMessage(error) }, "detection pipeline could not read events");
          schedule(pollMilliseconds);
        },
      );
    }, delay);
    timer.unref();
  };
  // Stateful detectors rebuild their baselines from the events before the resume point (their
  // findings there were reported before, and are skipped by key unless a crash lost them).
  if (stateful.length > 0 && cursor > 0) {
    const statefulTypes = [...new Set(stateful.flatMap((detector) => detector.eventTypes))];
    for (let after = 0; after < cursor; ) {
      const page = await store.read({ afterSeq: after, limit: batchSize, types: statefulTypes });
      for (const event of page) {
        if (event.seq > cursor) break;
        await inspect(event, stateful);
      }
      if (page.length < batchSize) break;
      after = page.at(-1)!.seq;
    }
  }
  schedule(0);

  return {
    get cursor() {
      return cursor;
    },
    async caughtUp() {
      if (stopped) throw new Error("the detection pipeline is stopped");
      await store.flush();
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        if (timer !== null && running === null) {
          clearTimeout(timer);
          timer = null;
        }
        schedule(0);
      });
    },
    async stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      await running;
    },
  };
}

function ordinalKey(detector: string, ordinal: number): string {
  return `${detector}#${ordinal}`;
}

/** The keys of every finding in the log. */
export async function reportedFindingKeys(store: EventStore): Promise<Set<string>> {
  return new Set([...(await reportedKeys(store)).keys()].filter((key) => !key.startsWith("claim-check:")));
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

interface ResumePoint {
  sourceSeq: number;
  /** `detector#ordinal` of the findings already written for `sourceSeq`. */
  reported: Set<string>;
}

/**
 * The last finding or claim check with a `sourceSeq`, searched backwards from the head a window
 * at a time, with the findings already written for that event (claim checks are found by key).
 */
async function findResumePoint(store: EventStore): Promise<ResumePoint | null> {
  const head = await store.head();
  if (head === null) return null;
  const window = 1000;
  const reportTypes: EventType[] = ["finding", "claim-check"];
  for (let upper = head.seq; upper > 0; upper -= window) {
    const lower = Math.max(0, upper - window);
    const findings = await store.read({ afterSeq: lower, limit: window, types: reportTypes });
    const last = findings.filter((event) => event.seq <= upper && sourceSeqOf(event) !== null).at(-1);
    if (last === undefined) continue;
    const sourceSeq = sourceSeqOf(last)!;
    const reported = new Set<string>();
    // Findings for one source event follow it, so they all lie after it.
    for (let after = sourceSeq; ; ) {
      const page = await store.read({ afterSeq: after, limit: window, types: ["finding"] });
      for (const event of page) {
        const data = event.data as { detector?: unknown; ordinal?: unknown };
        if (sourceSeqOf(event) === sourceSeq && typeof data.detector === "string") {
          reported.add(ordinalKey(data.detector, typeof data.ordinal === "number" ? data.ordinal : 0));
        }
      }
      if (page.length < window) break;
      after = page.at(-1)!.seq;
    }
    return { sourceSeq, reported };
  }
  return null;
}

function sourceSeqOf(event: StoredEvent): number | null {
  const value = (event.data as { sourceSeq?: unknown }).sourceSeq;
  return typeof value === "number" && Number.isInteger(value) && value > 0 ? value : null;
}
