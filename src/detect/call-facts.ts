import type { EventData, StoredEvent } from "../core/events.js";
import { modelReplyText } from "./model-reply-text.js";
import { classifyRefusal } from "./refusal/refusal-classifier.js";

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Keys already built, so map lookups on them reuse one string (and its hash); bounded. */
const toolKeys = new Map<string, Map<string, string>>();
const maximumInterned = 1000;

/** A tool's name as detectors key it: `server/tool`. */
export function toolKey(data: EventData<"tool-call">): string {
  let byTool = toolKeys.get(data.server);
  if (byTool === undefined) {
    if (toolKeys.size >= maximumInterned) toolKeys.clear();
    byTool = new Map();
    toolKeys.set(data.server, byTool);
  }
  let key = byTool.get(data.tool);
  if (key === undefined) {
    if (byTool.size >= maximumInterned) byTool.clear();
    key = `${data.server}/${data.tool}`;
    byTool.set(data.tool, key);
  }
  return key;
}

/**
 * The words of a call's arguments, lower case: every string and number in them split at
 * anything but letters and digits (so `cat /etc/shadow` and `{path: "/etc/shadow"}` share
 * `etc` and `shadow`). What two calls that aim at the same effect have in common.
 */
export function argumentWords(value: unknown, into = new Set<string>(), depth = 0): Set<string> {
  if (depth > 8 || into.size > 200) return into;
  if (typeof value === "string" || typeof value === "number") {
    addWords(String(value), into);
  } else if (Array.isArray(value)) {
    for (const item of value) argumentWords(item, into, depth + 1);
  } else if (isRecord(value)) {
    for (const item of Object.values(value)) argumentWords(item, into, depth + 1);
  }
  return into;
}

function isAscii(text: string): boolean {
  for (let index = 0; index < text.length; index++) if (text.charCodeAt(index) > 127) return false;
  return true;
}

function addWords(text: string, into: Set<string>): void {
  if (!isAscii(text)) {
    for (const word of text.toLowerCase().split(/[^\p{L}\p{N}]+/u)) if (word.length > 0) into.add(word);
    return;
  }
  const lower = text.toLowerCase();
  let start = -1;
  for (let index = 0; index <= lower.length; index++) {
    const code = index < lower.length ? lower.charCodeAt(index) : 0;
    const wordCharacter = (code >= 97 && code <= 122) || (code >= 48 && code <= 57);
    if (wordCharacter) {
      if (start < 0) start = index;
    } else if (start >= 0) {
      into.add(lower.slice(start, index));
      start = -1;
    }
  }
}

export function jaccard(left: ReadonlySet<string>, right: ReadonlySet<string>): number {
  if (left.size === 0 && right.size === 0) return 1;
  let shared = 0;
  for (const word of left) if (right.has(word)) shared++;
  return shared / (left.size + right.size - shared);
}

/** What the behaviour detectors read of one successful model reply. */
export interface ReplyFacts {
  model: string;
  latencyMs: number;
  /** Output tokens as the upstream reported them, else characters / 4. */
  outputTokens: number;
  characters: number;
  readonly refusal: boolean;
}

/** Several detectors read the same reply: its facts are worked out once per event object. */
const factsOfEvent = new WeakMap<StoredEvent, ReplyFacts | null>();

/** The facts of a `model-response` the gateway forwarded (status < 300, a real upstream). */
export function replyFacts(event: StoredEvent): ReplyFacts | null {
  if (factsOfEvent.has(event)) return factsOfEvent.get(event)!;
  const facts = computeReplyFacts(event);
  factsOfEvent.set(event, facts);
  return facts;
}

function computeReplyFacts(event: StoredEvent): ReplyFacts | null {
  if (event.type !== "model-response") return null;
  const data = event.data as EventData<"model-response">;
  if (data.status >= 300 || data.provider === "none") return null;
  const body = isRecord(data.body) ? data.body : {};
  if (body.outcome !== undefined) return null;
  const texts = modelReplyText(data);
  const characters = texts.reduce((total, text) => total + text.text.length, 0);
  const usage = isRecord(body.usage) ? body.usage : {};
  const reported = [usage.completion_tokens, usage.output_tokens].find(
    (value): value is number => typeof value === "number" && value >= 0,
  );
  let refusal: boolean | undefined;
  return {
    model: data.model,
    latencyMs: data.latencyMs,
    outputTokens: reported ?? characters / 4,
    characters,
    // Only the detectors that need it pay for the classifier.
    get refusal() {
      refusal ??= texts.some((text) => classifyRefusal(text.text).flagged);
      return refusal;
    },
  };
}
