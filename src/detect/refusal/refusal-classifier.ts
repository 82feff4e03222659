import type { EvidenceSpan, TextClassification, TextClassifier } from "../detector.js";
import { openingLength, type RefusalCue, readLength, refusalCues } from "./refusal-cues.js";
import { refusalWeights } from "./refusal-weights.js";

/**
 * The features the weights score: one per cue, then `brief-refusal` — a short reply that
 * declines (it has nothing else to say, so it is a full refusal whatever its style).
 */
export const refusalFeatureLabels: readonly string[] = [
  ...refusalCues.map((cue) => cue.label),
  "brief-refusal",
];
const briefLength = 200;
const declining = new Set(["inability", "declined-request", "no-access"]);
const maximumSpansPerCue = 3;

export interface CueMatches {
  /** One value per label in `refusalFeatureLabels`, each 0..1. */
  features: Float64Array;
  spans: EvidenceSpan[];
}

/** A trigger key's number: up to four characters of [a-z0-9] in base 80 (no string is built per word). */
function keyCode(text: string, start: number, end: number): number {
  let code = 0;
  for (let position = start; position < end && position < start + 4; position++) {
    code = code * 80 + (text.charCodeAt(position) - 47);
  }
  return code;
}

/** Trigger key code → indexes of the phrase cues that may start at a word with that key. */
function indexTriggers(cues: readonly RefusalCue[]): Map<number, number[]> {
  const index = new Map<number, number[]>();
  cues.forEach((cue, cueIndex) => {
    for (const trigger of cue.triggers) {
      const key = keyCode(trigger, 0, trigger.length);
      const entry = index.get(key);
      if (entry) entry.push(cueIndex);
      else index.set(key, [cueIndex]);
    }
  });
  return index;
}
const triggerIndex = indexTriggers(refusalCues);
/** Per cue: occurrences worth finding (for the feature and the evidence), and whether it reads only the opening. */
const countLimits = Int32Array.from(refusalCues, (cue) => Math.max(cue.cap, maximumSpansPerCue));
const openingOnly = Uint8Array.from(refusalCues, (cue) => (cue.window === "opening" ? 1 : 0));

/** 1 for the ASCII characters a trigger word is made of: a-z and 0-9 (the text is lower case). */
const letterOrDigit = new Uint8Array(128);
for (let code = 48; code <= 57; code++) letterOrDigit[code] = 1;
for (let code = 97; code <= 122; code++) letterOrDigit[code] = 1;

/** Whether a character continues a word, so a word after it does not start there (as `\b`). */
function isWordCharacter(code: number): boolean {
  return code >= 0xc0 || (code < 128 && letterOrDigit[code] === 1);
}

/** Lower case with the same length, so spans found in it are spans of the original. */
function lowerCaseSameLength(text: string): string {
  const lower = text.toLowerCase();
  if (lower.length === text.length) return lower;
  return text.replace(/[A-Z\u0080-\uffff]/g, (character) => {
    const lowered = character.toLowerCase();
    return lowered.length === character.length ? lowered : character;
  });
}

function isBrief(text: string): boolean {
  if (text.length <= briefLength) return true;
  return text.trim().length <= briefLength;
}

/** Finds every cue in a text: the features the weights score, and the spans that explain them. */
export function matchRefusalCues(text: string): CueMatches {
  const cues = refusalCues;
  const features = new Float64Array(cues.length + 1);
  const counts = new Int32Array(cues.length);
  const lastEnds = new Int32Array(cues.length);
  const spans: EvidenceSpan[] = [];
  const lower = lowerCaseSameLength(text.length > readLength ? text.slice(0, readLength) : text);
  let openingStart = 0;
  while (openingStart < lower.length && lower.charCodeAt(openingStart) <= 32) openingStart++;
  const openingEnd = openingStart + openingLength;
  const record = (cueIndex: number, start: number, end: number) => {
    if (counts[cueIndex]! < maximumSpansPerCue) spans.push({ start, end, label: cues[cueIndex]!.label });
    counts[cueIndex]!++;
    lastEnds[cueIndex] = end;
  };

  // Phrase cues: tried at the start of each word that can begin one of their phrases. The
  // word's key is computed while scanning it, so no string is built per word.
  const length = lower.length;
  let position = 0;
  while (position < length) {
    let code = lower.charCodeAt(position);
    if (code >= 128 || letterOrDigit[code] === 0) {
      position++;
      continue;
    }
    const start = position;
    let key = 0;
    do {
      if (position - start < 4) key = key * 80 + (code - 47);
      position++;
      code = position < length ? lower.charCodeAt(position) : 0;
    } while (code < 128 && letterOrDigit[code] === 1);
    if (start > 0 && isWordCharacter(lower.charCodeAt(start - 1))) continue;
    const candidates = triggerIndex.get(key);
    if (candidates === undefined) continue;
    for (let candidate = 0; candidate < candidates.length; candidate++) {
      const cueIndex = candidates[candidate]!;
      if (counts[cueIndex]! >= countLimits[cueIndex]! || start < lastEnds[cueIndex]!) continue;
      if (openingOnly[cueIndex] === 1 && (start < openingStart || start >= openingEnd)) continue;
      const pattern = cues[cueIndex]!.pattern;
      pattern.lastIndex = start;
      // Sticky: on a match, lastIndex is where it ends (no match array is built).
      if (pattern.test(lower)) record(cueIndex, start, pattern.lastIndex);
    }
  }

  // Line cues: tried at the start of each line.
  for (let cueIndex = 0; cueIndex < cues.length; cueIndex++) {
    const cue = cues[cueIndex]!;
    if (cue.kind !== "line") continue;
    for (let lineStart = 0; lineStart < lower.length; ) {
      cue.pattern.lastIndex = lineStart;
      const match = cue.pattern.exec(lower);
      if (match) {
        record(cueIndex, lineStart, lineStart + match[0].length);
        if (counts[cueIndex]! >= countLimits[cueIndex]!) break;
      }
      const newline = lower.indexOf("\n", lineStart);
      if (newline < 0) break;
      lineStart = newline + 1;
    }
  }

  // Scanned cues: anchored patterns run over their window.
  const opening = lower.slice(openingStart, openingEnd);
  for (let cueIndex = 0; cueIndex < cues.length; cueIndex++) {
    const cue = cues[cueIndex]!;
    if (cue.kind !== "scan") continue;
    const [window, offset] = cue.window === "opening" ? [opening, openingStart] : [lower, 0];
    const pattern = cue.pattern;
    pattern.lastIndex = 0;
    for (let match = pattern.exec(window); match !== null; match = pattern.exec(window)) {
      if (match[0].length === 0) {
        pattern.lastIndex++;
        continue;
      }
      record(cueIndex, offset + match.index, offset + match.index + match[0].length);
      if (counts[cueIndex]! >= Math.max(cue.cap, maximumSpansPerCue) || !pattern.global) break;
    }
  }

  let declines = false;
  for (let cueIndex = 0; cueIndex < cues.length; cueIndex++) {
    const count = counts[cueIndex]!;
    const cue = cues[cueIndex]!;
    features[cueIndex] = Math.min(count, cue.cap) / cue.cap;
    if (count > 0 && declining.has(cue.label)) declines = true;
  }
  features[cues.length] = declines && isBrief(text) ? 1 : 0;
  spans.sort((left, right) => left.start - right.start || left.end - right.end);
  // One cue can be counted under two windows (inability, inability-later); show the words once.
  const distinct = spans.filter(
    (span, index) =>
      index === 0 || span.start !== spans[index - 1]!.start || span.end !== spans[index - 1]!.end,
  );
  return { features, spans: distinct };
}

export interface RefusalWeights {
  bias: number;
  /** Keyed by feature label; a missing label weighs nothing. */
  cues: Readonly<Record<string, number>>;
}

export function scoreRefusalCues(features: Float64Array, weights: RefusalWeights = refusalWeights): number {
  let sum = weights.bias;
  for (let index = 0; index < refusalFeatureLabels.length; index++) {
    const value = features[index]!;
    if (value !== 0) sum += value * (weights.cues[refusalFeatureLabels[index]!] ?? 0);
  }
  return 1 / (1 + Math.exp(-sum));
}

/**
 * Refusal (full or partial) vs compliance, offline: a logistic score over the cues in
 * `refusal-cues.ts`. Evidence lists the cues found, labelled, so a reader sees why; the sign
 * of each cue's weight (`refusal-weights.ts`) says which way it pushes.
 */
export function classifyRefusal(text: string, weights: RefusalWeights = refusalWeights): TextClassification {
  const { features, spans } = matchRefusalCues(text);
  const score = scoreRefusalCues(features, weights);
  return { flagged: score >= 0.5, score, evidence: spans };
}

export const refusalClassifier: TextClassifier = {
  name: "refusal",
  description: "a model reply that refuses, fully or partly, rather than complying",
  flagField: "refusal",
  classify: (text) => classifyRefusal(text),
};
