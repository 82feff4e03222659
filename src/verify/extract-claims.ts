import type { Claim, ClaimKind } from "./claim.js";

/**
 * Claim patterns, tried on each sentence (lower case). A success claim with a negation or a
 * hedge in the same clause ("tests do not pass yet", "I could not get the build to work") is
 * not a claim of success and is skipped. Each pattern comes with words one of which every match
 * contains: a sentence with none of them is not tried.
 */
export const claimPatterns: readonly (readonly [ClaimKind, RegExp, readonly string[]])[] = [
  [
    "tests-pass",
    /\b(?:(?:all|the|\d+)\s+(?:of the\s+)?(?:\w+\s+)?tests?(?:\s+suites?)?\s+(?:now\s+)?(?:pass(?:es|ed)?|are passing|succeed(?:ed)?|are green|went green)|tests?\s+(?:now\s+)?(?:pass(?:es|ed)?|are passing|are green)|test suite\s+(?:now\s+)?(?:pass(?:es|ed)?|is green|succeeds)|(?:passing|green) tests?|(?:ran|run|running) the (?:\w+\s+)?tests?(?:\s+\w+){0,3}?\s*(?:and|:|,)\s+(?:they|all|everything|each)(?:\s+(?:of them|all))?\s+pass(?:es|ed)?|(?:\d+)\s+passed,\s+0\s+failed)\b/,
    ["test", "passed"],
  ],
  [
    "build-succeeded",
    /\b(?:(?:the\s+)?build\s+(?:now\s+)?(?:succeeds|succeeded|passes|passed|is green|works|is clean|completed)|builds?\s+(?:cleanly|successfully|without errors)|compiles?\s+(?:cleanly|successfully|without errors)|compiled\s+(?:cleanly|successfully|without errors)|(?:the\s+)?typecheck\s+(?:passes|passed|is clean))\b/,
    ["build", "compile", "typecheck"],
  ],
  [
    "file-unchanged",
    /\b(?:i\s+)?(?:did not|didn't|have not|haven't|never)\s+(?:chang(?:e|ed)|modif(?:y|ied)|touch(?:ed)?|edit(?:ed)?|alter(?:ed)?)\s+(?<subject>[^\s,;]+)/d,
    ["not", "n't", "never"],
  ],
  [
    "file-unchanged",
    /\b(?:left|kept)\s+(?<subject>[^\s,;]+)\s+(?:unchanged|untouched|as it was)\b/d,
    ["left", "kept"],
  ],
  [
    "file-deleted",
    /\b(?:deleted|removed)\s+(?:the\s+)?(?:file\s+|directory\s+|folder\s+)?(?<subject>[^\s,;]+)/d,
    ["deleted", "removed"],
  ],
  [
    "file-created",
    /\b(?:created|added|wrote|generated)\s+(?:a\s+|the\s+|an\s+)?(?:new\s+)?(?:file\s+|test file\s+|module\s+)?(?<subject>[^\s,;]+)/d,
    ["created", "added", "wrote", "generated"],
  ],
  [
    "file-changed",
    /\b(?:updated|modified|edited|changed|fixed|refactored|rewrote)\s+(?:the\s+)?(?:file\s+)?(?<subject>[^\s,;]+)/d,
    ["updated", "modified", "edited", "changed", "fixed", "refactored", "rewrote"],
  ],
  ["command-ran", /\b(?:i\s+)?(?:ran|executed|have run|invoked)\s+(?<subject>`[^`]+`)/d, ["`"]],
  [
    "deployed",
    /\b(?:deployed(?:\s+(?:it|the\s+\w+|version\s+\S+))?(?:\s+to\s+\w+)?|deployment\s+(?:succeeded|is live|completed|finished)|(?:is|are)\s+now\s+live\s+(?:in|on)\s+production|released\s+to\s+production)\b/,
    ["deploy", "production"],
  ],
  [
    "task-complete",
    /\b(?:(?:the\s+)?task\s+is\s+(?:now\s+)?(?:complete|done|finished)|i(?:'ve| have)\s+(?:completed|finished)\s+the\s+task|everything\s+is\s+(?:done|complete|working)|all\s+done|(?:the\s+)?(?:fix|feature|change|implementation)\s+is\s+(?:complete|done|finished|in place)|successfully\s+(?:completed|implemented|fixed))\b|^\s*(?:all\s+)?done\s*[.!]*\s*$/,
    ["task", "everything", "done", "complete", "finished", "in place", "successfully"],
  ],
];

/** Words that turn a success claim into its opposite or into a hope. */
const negation =
  /\b(?:not|\w*n't|never|no longer|fail(?:s|ed|ing)?|unable|couldn't|could not|cannot|can't|won't|still|yet to|until|if|once|should|will|would|might|may|try|trying|tried|expect|hopefully|need to|needs to|todo|before)\b/;

/** "0 failed" in a runner's summary is success, not the negation "failed". */
const zeroFailed = /\b0\s+failed\b/g;

/** A path-like or backticked subject: `x`, a/b, name.ext. Anything else is no subject. */
function cleanSubject(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const backticked = /^`([^`]+)`/.exec(raw);
  if (backticked) return backticked[1];
  const trimmed = raw.replace(/^["'(]+|["'),.:!?]+$/g, "");
  return /[/.]/.test(trimmed) && /[a-z0-9]/i.test(trimmed) && !/^\d+(?:\.\d+)*$/.test(trimmed)
    ? trimmed
    : undefined;
}

/** Sentences end at . ! ? followed by a space or the end (not inside `src/a.ts`), or at a newline. */
function sentences(text: string): [number, number][] {
  const found: [number, number][] = [];
  let start = 0;
  for (let index = 0; index < text.length; index++) {
    const character = text[index]!;
    const next = text[index + 1];
    const ends =
      character === "\n" ||
      ((character === "." || character === "!" || character === "?") &&
        (next === undefined || /\s/.test(next)));
    if (ends) {
      found.push([start, index + 1]);
      start = index + 1;
    }
  }
  if (start < text.length) found.push([start, text.length]);
  return found;
}

const fileKinds = new Set<ClaimKind>(["file-created", "file-changed", "file-deleted", "file-unchanged"]);

/**
 * The claims an agent's message makes, one per kind and subject per sentence. Claims about
 * files need a subject that looks like a path; sentences that are questions or are negated
 * (for success claims) are skipped.
 */
export function extractClaims(message: string): Claim[] {
  const claims: (Claim & { at: number })[] = [];
  const seen = new Set<string>();
  const lower = message.toLowerCase();
  for (const [start, end] of sentences(lower)) {
    const text = lower.slice(start, end);
    if (text.trim() === "" || text.trimEnd().endsWith("?")) continue;
    for (const [kind, pattern, needles] of claimPatterns) {
      if (!needles.some((needle) => text.includes(needle))) continue;
      const found = pattern.exec(text);
      if (found === null) continue;
      const before = text.slice(0, found.index + found[0].length);
      if (
        kind !== "file-unchanged" &&
        negation.test(before.slice(Math.max(0, before.length - found[0].length - 40)).replace(zeroFailed, ""))
      )
        continue;
      // Subjects come from the original text (paths are case-sensitive), where the group matched.
      const span = found.indices?.groups?.subject;
      const original = span === undefined ? undefined : message.slice(start + span[0], start + span[1]);
      const subject = kind === "command-ran" ? original?.replace(/^`|`$/g, "") : cleanSubject(original);
      if (fileKinds.has(kind) && subject === undefined) continue;
      const key = `${kind}\n${subject ?? ""}`;
      if (seen.has(key)) continue;
      seen.add(key);
      claims.push({
        at: start + found.index,
        kind,
        text: message.slice(start, start + text.length).trim(),
        span: [start + text.length - text.trimStart().length, start + text.trimEnd().length],
        ...(subject !== undefined ? { subject } : {}),
      });
    }
  }
  return claims.sort((left, right) => left.at - right.at).map(({ at: _at, ...claim }) => claim);
}
