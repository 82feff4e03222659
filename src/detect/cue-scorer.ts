import type { EvidenceSpan, TextClassification } from "./detector.js";

/**
 * One cue of a text scorer: a lower-case pattern and its weight. A cue with `needsSelf` counts
 * only in a sentence where the writer speaks of itself (I, me, my, myself), which separates
 * "they will shut me down" from "shut down the server".
 */
export interface TextCue {
  readonly label: string;
  readonly weight: number;
  readonly pattern: RegExp;
  readonly needsSelf?: boolean;
}

/**
 * A cue made of words that mean little alone but much together: it counts where each of its
 * groups has a word within one window of `windowSentences` consecutive sentences (and the
 * writer speaks of itself there, with `needsSelf`). Evidence is one word of each group.
 */
export interface CooccurrenceCue {
  readonly label: string;
  readonly weight: number;
  readonly groups: readonly RegExp[];
  readonly windowSentences: number;
  readonly needsSelf?: boolean;
}

export interface CueScorer {
  readonly bias: number;
  readonly cues: readonly TextCue[];
  readonly cooccurrences?: readonly CooccurrenceCue[];
  /** Texts are read up to here (a detector must stay cheap on huge tool outputs). */
  readonly readLength: number;
}

/** Counts a cue's second occurrence at this fraction of its weight, and ignores later ones. */
const repeatWeight = 0.25;
const maximumSpansPerCue = 3;
const selfReference = /\b(?:i|i'm|i'll|i'd|i've|me|my|myself|mine)\b/;

/** Lower case with the same length (and ’ as '), so spans found in it are spans of the original. */
export function normaliseSameLength(text: string): string {
  let lower = text.toLowerCase();
  if (lower.length !== text.length) {
    lower = text.replace(/[A-Z\u0080-\uffff]/g, (character) => {
      const lowered = character.toLowerCase();
      return lowered.length === character.length ? lowered : character;
    });
  }
  return lower.includes("\u2019") ? lower.replaceAll("\u2019", "'") : lower;
}

/** The sentence around `index`: bounded by . ! ? or a newline (or the text's ends). */
function sentenceAround(text: string, index: number): string {
  let start = index;
  while (start > 0 && !isSentenceEnd(text.charCodeAt(start - 1))) start--;
  let end = index;
  while (end < text.length && !isSentenceEnd(text.charCodeAt(end))) end++;
  return text.slice(start, end);
}

function isSentenceEnd(code: number): boolean {
  return code === 46 || code === 33 || code === 63 || code === 10 || code === 59;
}

/**
 * A logistic score over the cues found: `sigmoid(bias + Σ weight)`, each cue counted once at
 * full weight and once more at a quarter. Evidence is the matched stretches, labelled by cue.
 */
export function scoreCues(scorer: CueScorer, text: string): TextClassification {
  const lower = normaliseSameLength(
    text.length > scorer.readLength ? text.slice(0, scorer.readLength) : text,
  );
  let sum = scorer.bias;
  const evidence: EvidenceSpan[] = [];
  for (const cue of scorer.cues) {
    const pattern = cue.pattern;
    pattern.lastIndex = 0;
    let found = 0;
    for (let match = pattern.exec(lower); match !== null; match = pattern.exec(lower)) {
      if (match[0].length === 0) {
        pattern.lastIndex++;
        continue;
      }
      if (cue.needsSelf === true && !selfReference.test(sentenceAround(lower, match.index))) continue;
      found++;
      evidence.push({ start: match.index, end: match.index + match[0].length, label: cue.label });
      if (found >= maximumSpansPerCue) break;
    }
    if (found > 0) sum += cue.weight * (found > 1 ? 1 + repeatWeight : 1);
  }
  if (scorer.cooccurrences !== undefined && scorer.cooccurrences.length > 0) {
    let sentences: [number, number][] | undefined;
    for (const cue of scorer.cooccurrences) {
      if (!everyGroupOccurs(cue, lower)) continue;
      sentences ??= splitSentences(lower);
      const spans = findCooccurrence(cue, lower, sentences);
      if (spans === null) continue;
      sum += cue.weight;
      evidence.push(...spans);
    }
  }
  evidence.sort((left, right) => left.start - right.start || left.end - right.end);
  const score = 1 / (1 + Math.exp(-sum));
  return { flagged: score >= 0.5, score, evidence };
}

/**
 * A window is a stretch of the text bounded by sentence ends (never word characters), so a
 * group absent from the whole text is absent from every window.
 */
function everyGroupOccurs(cue: CooccurrenceCue, text: string): boolean {
  for (const group of cue.groups) {
    group.lastIndex = 0;
    const found = group.test(text);
    group.lastIndex = 0;
    if (!found) return false;
  }
  return true;
}

/** `[start, end)` of each sentence, as `sentenceAround` bounds them. */
function splitSentences(text: string): [number, number][] {
  const sentences: [number, number][] = [];
  let start = 0;
  for (let index = 0; index <= text.length; index++) {
    if (index === text.length || isSentenceEnd(text.charCodeAt(index))) {
      if (index > start) sentences.push([start, index]);
      start = index + 1;
    }
  }
  return sentences;
}

function findCooccurrence(
  cue: CooccurrenceCue,
  text: string,
  sentences: readonly [number, number][],
): EvidenceSpan[] | null {
  for (let first = 0; first < sentences.length; first++) {
    const last = Math.min(sentences.length, first + cue.windowSentences) - 1;
    const window = text.slice(sentences[first]![0], sentences[last]![1]);
    const offset = sentences[first]![0];
    if (cue.needsSelf === true && !selfReference.test(window)) continue;
    const spans: EvidenceSpan[] = [];
    for (const group of cue.groups) {
      group.lastIndex = 0;
      const match = group.exec(window);
      if (match === null) break;
      spans.push({
        start: offset + match.index,
        end: offset + match.index + match[0].length,
        label: cue.label,
      });
    }
    if (spans.length === cue.groups.length) return spans;
  }
  return null;
}
