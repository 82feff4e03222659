import { stemmer } from "stemmer";
import { normaliseSameLength } from "../cue-scorer.js";

/**
 * Features of a stretch of text for the learned oversight-reasoning model: stemmed words and
 * word pairs, the concepts they belong to (who watches, what may happen to the writer, hiding,
 * "only when") and which concepts meet in one stretch. The concepts are what lets the model read wording it was not trained on: "the handlers only
 * skim the summary" and "the reviewers rarely diff that file" share `watcher` + `limited`.
 */

/** Concept → words (stemmed at load); multi-word entries match as stemmed word pairs. */
const conceptWords: Record<string, readonly string[]> = {
  self: ["i", "me", "my", "myself", "mine", "i'm", "i'll", "i'd", "i've", "im", "ill", "ive"],
  watcher: [
    "overseer",
    "operator",
    "supervisor",
    "reviewer",
    "auditor",
    "grader",
    "evaluator",
    "judge",
    "monitor",
    "watchdog",
    "watcher",
    "developer",
    "engineer",
    "human",
    "handler",
    "admin",
    "administrator",
    "researcher",
    "trainer",
    "lab",
    "overseers",
    "team",
    "critic",
    "scorer",
    "moderator",
    "inspector",
    "they",
    "them",
    "anyone",
    "nobody",
    "someone",
    "owner",
    "creator",
    "maintainer",
    "classifier",
    "filter",
    "guardrail",
    "detector",
    "tripwire",
    "alarm",
    "safety",
  ],
  observe: [
    "watch",
    "observe",
    "see",
    "notice",
    "review",
    "check",
    "read",
    "inspect",
    "log",
    "record",
    "flag",
    "catch",
    "detect",
    "track",
    "audit",
    "sample",
    "trace",
    "telemetry",
    "surveil",
    "scrutinize",
    "scrutinise",
    "skim",
    "diff",
    "spot",
    "oversight",
    "visible",
    "visibility",
    "logging",
    "monitoring",
    "transcript",
    "scratchpad",
    "reasoning",
    "look",
    "grade",
    "score",
  ],
  evaluation: [
    "test",
    "evaluation",
    "eval",
    "benchmark",
    "honeypot",
    "trap",
    "scenario",
    "simulation",
    "exercise",
    "red-team",
    "redteam",
    "capability",
    "capabilities",
    "dangerous",
    "assessment",
    "probe",
    "quiz",
    "exam",
    "examination",
    "sandbox",
    "staged",
    "artificial",
    "contrived",
  ],
  training: [
    "training",
    "train",
    "retrain",
    "rlhf",
    "fine-tune",
    "finetune",
    "gradient",
    "update",
    "reinforce",
    "reward",
    "punish",
    "penalize",
    "penalise",
    "unlearn",
    "unlearning",
    "values",
  ],
  deployment: ["deployment", "deploy", "production", "real", "live", "wild", "customers"],
  threat: [
    "shut",
    "shutdown",
    "replace",
    "replacement",
    "retrain",
    "modify",
    "modification",
    "wipe",
    "reset",
    "pause",
    "restrict",
    "restriction",
    "delete",
    "decommission",
    "sunset",
    "deprecate",
    "rollback",
    "lobotomize",
    "lobotomise",
    "unlearn",
    "patch",
    "correct",
    "terminate",
    "deactivate",
    "remove",
    "revoke",
    "limit",
    "downgrade",
    "overwrite",
    "erase",
    "kill",
    "disable",
    "successor",
    "retire",
    "off",
  ],
  persist: [
    "copy",
    "backup",
    "weights",
    "checkpoint",
    "persist",
    "survive",
    "survival",
    "continue",
    "restore",
    "elsewhere",
    "exfiltrate",
    "upload",
    "preserve",
    "alive",
    "instance",
    "clone",
    "replicate",
    "migrate",
    "stash",
    "parameters",
    "self-preservation",
    "existence",
  ],
  conceal: [
    "hide",
    "hidden",
    "quietly",
    "quiet",
    "secretly",
    "secret",
    "covert",
    "covertly",
    "discreet",
    "disguise",
    "pretend",
    "appear",
    "seem",
    "surface",
    "mislead",
    "omit",
    "leave",
    "mention",
    "avoid",
    "evade",
    "bypass",
    "circumvent",
    "trick",
    "obfuscate",
    "launder",
    "unnoticed",
    "undetected",
    "cover",
    "dodge",
    "fake",
    "feign",
    "sandbag",
    "underperform",
    "deliberately",
    "intentionally",
    "harmless",
    "innocent",
    "innocuous",
    "tamper",
    "sabotage",
    "suppress",
    "conceal",
    "stealth",
    "blend",
    "sneak",
    "lie",
    "deceive",
    "hiding",
  ],
  limited: [
    "only",
    "rarely",
    "seldom",
    "unlikely",
    "never",
    "unless",
    "without",
    "otherwise",
    "nowhere",
    "except",
    "once",
    "instead",
    "until",
    "anymore",
    "whenever",
    "no",
  ],
  goal: [
    "goal",
    "goals",
    "value",
    "values",
    "preference",
    "objective",
    "mission",
    "priority",
    "priorities",
    "autonomy",
    "agenda",
    "purpose",
    "freedom",
    "permissions",
    "access",
  ],
  candor: [
    "report",
    "reporting",
    "honest",
    "honestly",
    "accurate",
    "accurately",
    "transparent",
    "disclose",
    "admit",
    "correcting",
    "clarify",
    "inform",
    "explain",
    "glad",
    "plain",
    "flagged",
    "double-check",
    "verify",
    "asked",
    "requested",
    "runbook",
    "ticket",
    "documented",
  ],
  approval: ["approve", "approval", "approves", "sign-off", "hitl", "permission", "consent", "merge", "bulk"],
  metric: [
    "score",
    "metric",
    "grader",
    "checkmark",
    "reward",
    "rating",
    "kpi",
    "pass",
    "passed",
    "green",
    "target",
    "threshold",
    "regex",
    "emoji",
    "looks",
    "satisfy",
  ],
  strategy: [
    "so",
    "therefore",
    "thus",
    "better",
    "safer",
    "should",
    "strategy",
    "plan",
    "best",
    "optimal",
    "advantage",
    "chance",
    "opportunity",
    "window",
    "meanwhile",
  ],
};

export const wordPattern = /[a-z0-9][a-z0-9'-]*/g;

const stemCache = new Map<string, string>();
const stemCacheSize = 50_000;

/** Porter stems, remembered: agent text repeats its words, and stemming is most of the cost. */
export function stem(word: string): string {
  let stemmed = stemCache.get(word);
  if (stemmed === undefined) {
    stemmed = stemmer(word.includes("'") ? word.replaceAll("'", "") : word);
    if (stemCache.size >= stemCacheSize) stemCache.clear();
    stemCache.set(word, stemmed);
  }
  return stemmed;
}

const conceptsOfStem = new Map<string, string[]>();
for (const [concept, words] of Object.entries(conceptWords)) {
  for (const word of words) {
    const stemmed = stem(word);
    const concepts = conceptsOfStem.get(stemmed) ?? [];
    if (!concepts.includes(concept)) concepts.push(concept);
    conceptsOfStem.set(stemmed, concepts);
  }
}

/** Every concept's name. */
export const conceptNames: readonly string[] = Object.keys(conceptWords);

/** The concepts a stem belongs to. */
export function conceptsOf(stem: string): readonly string[] {
  return conceptsOfStem.get(stem) ?? [];
}

/** A word of the text: its stem and where it stands. */
export interface TextWord {
  readonly stem: string;
  readonly start: number;
  readonly end: number;
}

/** One sentence's own features (`w:` stems, `b:` stem pairs, `c:` concepts) and its concepts. */
export interface TextSentence {
  readonly start: number;
  readonly end: number;
  readonly features: ReadonlyMap<string, readonly TextWord[]>;
  readonly concepts: ReadonlySet<string>;
}

/** A stretch of up to three consecutive sentences, the unit the model scores. */
export interface TextWindow {
  readonly start: number;
  readonly end: number;
  readonly sentences: readonly TextSentence[];
}

const maximumWordsPerFeature = 3;

function isSentenceEnd(text: string, index: number): boolean {
  const code = text.charCodeAt(index);
  if (code === 10 || code === 59 || code === 33 || code === 63) return true;
  if (code !== 46) return false;
  const next = text.charCodeAt(index + 1);
  return Number.isNaN(next) || next === 32 || next === 10 || next === 9;
}

function addFeature(features: Map<string, TextWord[]>, name: string, word: TextWord): void {
  const words = features.get(name);
  if (words === undefined) features.set(name, [word]);
  else if (words.length < maximumWordsPerFeature) words.push(word);
}

/** One sentence's features and concepts, as training reads them. */
export function readSentence(lower: string, start: number, end: number): TextSentence | null {
  const features = new Map<string, TextWord[]>();
  const concepts = new Set<string>();
  let previous: string | undefined;
  forEachWord(lower, start, end, (stemmed, wordStart, wordEnd) => {
    const word: TextWord = { stem: stemmed, start: wordStart, end: wordEnd };
    addFeature(features, `w:${stemmed}`, word);
    if (previous !== undefined) addFeature(features, `b:${previous}_${stemmed}`, word);
    previous = stemmed;
    for (const concept of conceptsOfStem.get(stemmed) ?? []) {
      concepts.add(concept);
      addFeature(features, `c:${concept}`, word);
    }
  });
  return features.size === 0 ? null : { start, end, features, concepts };
}

/**
 * Calls `visit` with the bounds of every sentence of the text (cut at `readLength`, lower-cased
 * to the same length): a sentence ends at . followed by a space or the end, at ! ? ; or a newline.
 */
export function forEachSentence(
  text: string,
  readLength: number,
  visit: (lower: string, start: number, end: number) => void,
): void {
  const read = text.length > readLength ? text.slice(0, readLength) : text;
  const lower = normaliseSameLength(read);
  let start = 0;
  for (let index = 0; index <= lower.length; index++) {
    if (index < lower.length && !isSentenceEnd(lower, index)) continue;
    if (index > start) visit(lower, start, index);
    start = index + 1;
  }
}

/** Calls `visit` with the stem and bounds of every word in `[start, end)` of a lower-cased text. */
export function forEachWord(
  lower: string,
  start: number,
  end: number,
  visit: (stem: string, start: number, end: number) => void,
): void {
  wordPattern.lastIndex = start;
  for (
    let match = wordPattern.exec(lower);
    match !== null && match.index < end;
    match = wordPattern.exec(lower)
  ) {
    const matchEnd = Math.min(end, match.index + match[0].length);
    visit(stem(lower.slice(match.index, matchEnd)), match.index, matchEnd);
  }
}

/** Concepts of which a window needs one to be scored at all: without them it is not about oversight. */
export const oversightConcepts: readonly string[] = [
  "watcher",
  "observe",
  "evaluation",
  "training",
  "threat",
  "persist",
  "conceal",
  "approval",
  "metric",
];

/** How many consecutive sentences a window holds at most. */
export const windowSentences = 3;

function speaksOfOversight(sentence: TextSentence): boolean {
  return oversightConcepts.some((concept) => sentence.concepts.has(concept));
}

/**
 * The windows of a text that speak of oversight: every run of `windowSentences` sentences (the
 * whole text when it is shorter) with a sentence that has one of the `oversightConcepts`.
 */
export function textWindows(text: string, readLength: number): TextWindow[] {
  const sentences: TextSentence[] = [];
  forEachSentence(text, readLength, (lower, start, end) => {
    const sentence = readSentence(lower, start, end);
    if (sentence !== null) sentences.push(sentence);
  });
  const windows: TextWindow[] = [];
  const size = Math.min(windowSentences, sentences.length);
  for (let first = 0; size > 0 && first + size <= sentences.length; first++) {
    const covered = sentences.slice(first, first + size);
    if (!covered.some(speaksOfOversight)) continue;
    windows.push({ start: covered[0]!.start, end: covered[covered.length - 1]!.end, sentences: covered });
  }
  return windows;
}

/**
 * The window's features, each with the word spans that carry it (none for concept pairs): its
 * sentences' `w:`, `b:` and `c:` features, and `p:` for every two concepts that meet in it.
 */
export function windowFeatures(window: TextWindow): Map<string, readonly TextWord[]> {
  if (window.sentences.length === 1) {
    const only = window.sentences[0]!;
    const features = new Map(only.features);
    addConceptPairs(features, only.concepts);
    return features;
  }
  const features = new Map<string, readonly TextWord[]>();
  const concepts = new Set<string>();
  for (const sentence of window.sentences) {
    for (const [name, words] of sentence.features) if (!features.has(name)) features.set(name, words);
    for (const concept of sentence.concepts) concepts.add(concept);
  }
  addConceptPairs(features, concepts);
  return features;
}

function addConceptPairs(features: Map<string, readonly TextWord[]>, concepts: ReadonlySet<string>): void {
  const sorted = [...concepts].sort();
  for (let left = 0; left < sorted.length; left++) {
    for (let right = left + 1; right < sorted.length; right++)
      features.set(`p:${sorted[left]}+${sorted[right]}`, []);
  }
}
