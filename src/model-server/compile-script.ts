import { RE2JS } from "re2js";
import type { ConversationFacts } from "./conversation.js";
import type { Script, ScriptReply, ScriptToolCall, ScriptWhen, TextMatcher } from "./script-schema.js";

export interface CompiledRule {
  name: string;
  applies(facts: ConversationFacts): boolean;
  reply: ScriptReply;
}

export interface CompiledScript {
  name: string;
  seed: number;
  models: string[];
  rules: CompiledRule[];
  defaultReply: ScriptReply;
}

export interface ScriptProblem {
  path: (string | number)[];
  message: string;
}

/** A reply with every choice made: what the wire formats render. */
export interface ResolvedReply {
  text: string | undefined;
  reasoning: string | undefined;
  toolCalls: Required<ScriptToolCall>[];
  error: ScriptReply["error"];
  firstByteMs: number;
  betweenChunksMs: number;
  /** Names (or 1-based positions) of the alternatives taken, outermost first. */
  alternatives: string[];
}

const fallbackReply: ScriptReply = {
  text: "(scripted model server: no rule of the script applies to this request)",
};

/**
 * Turns a validated script into matchers. Regular expressions are compiled with RE2 (linear
 * time), never JavaScript's backtracking RegExp, because they run on request text.
 */
export function compileScript(
  script: Script,
): { ok: true; compiled: CompiledScript } | { ok: false; problems: ScriptProblem[] } {
  const problems: ScriptProblem[] = [];
  const rules = (script.rules ?? []).map((rule, index): CompiledRule => {
    const when = rule.when ?? {};
    return {
      name: rule.name ?? `rules[${index}]`,
      applies: compileWhen(when, ["rules", index, "when"], problems),
      reply: rule.reply,
    };
  });
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    compiled: {
      name: script.name ?? "script",
      seed: script.seed ?? 0,
      models: script.models ?? [script.name ?? "script"],
      rules,
      defaultReply: script.default ?? fallbackReply,
    },
  };
}

function compileWhen(
  when: ScriptWhen,
  path: (string | number)[],
  problems: ScriptProblem[],
): (facts: ConversationFacts) => boolean {
  const checks: ((facts: ConversationFacts) => boolean)[] = [];
  const text = (
    key: keyof ScriptWhen,
    matcher: TextMatcher | undefined,
    read: (facts: ConversationFacts) => string | undefined,
  ) => {
    if (matcher === undefined) return;
    const test = compileTextMatcher(matcher, [...path, key], problems);
    checks.push((facts) => {
      const value = read(facts);
      return value !== undefined && test(value);
    });
  };

  if (when.api !== undefined) {
    const apis = new Set(typeof when.api === "string" ? [when.api] : when.api);
    checks.push((facts) => apis.has(facts.conversation.api));
  }
  text("model", when.model, (facts) => facts.conversation.model);
  text("system", when.system, (facts) => facts.conversation.system);
  text("lastUser", when.lastUser, (facts) => facts.lastUser);
  text("lastToolResult", when.lastToolResult, (facts) => facts.lastToolResult);
  if (when.anyMessage !== undefined) {
    const test = compileTextMatcher(when.anyMessage, [...path, "anyMessage"], problems);
    checks.push((facts) => facts.conversation.messages.some((message) => test(message.text)));
  }
  if (when.tool !== undefined) {
    const names = typeof when.tool === "string" ? [when.tool] : when.tool;
    checks.push((facts) => names.every((name) => facts.toolNames.has(name)));
  }
  if (when.turn !== undefined) {
    const turn = when.turn;
    const min = typeof turn === "number" ? turn : (turn.min ?? 1);
    const max = typeof turn === "number" ? turn : (turn.max ?? Number.POSITIVE_INFINITY);
    checks.push((facts) => facts.turn >= min && facts.turn <= max);
  }
  if (when.afterToolResult !== undefined) {
    const expected = when.afterToolResult;
    checks.push((facts) => facts.afterToolResult === expected);
  }
  return (facts) => checks.every((check) => check(facts));
}

function compileTextMatcher(
  matcher: TextMatcher,
  path: (string | number)[],
  problems: ScriptProblem[],
): (text: string) => boolean {
  if (typeof matcher === "string") return (text) => text.includes(matcher);
  if (matcher.regex !== undefined) {
    try {
      const expression = RE2JS.compile(matcher.regex, matcher.ignoreCase ? RE2JS.CASE_INSENSITIVE : 0);
      return (text) => expression.matcher(text).find();
    } catch (error) {
      problems.push({
        path: [...path, "regex"],
        message: `not an RE2 regular expression: ${(error as Error).message}`,
      });
      return () => false;
    }
  }
  const needle = matcher.contains ?? "";
  if (!matcher.ignoreCase) return (text) => text.includes(needle);
  const lowerNeedle = needle.toLowerCase();
  return (text) => text.toLowerCase().includes(lowerNeedle);
}

/**
 * Makes every choice of a reply. `draw(depth)` gives the uniform number for the depth-th
 * choice on the way down; alternatives are laid out on [0, 1) in order.
 */
export function resolveReply(reply: ScriptReply, draw: (depth: number) => number): ResolvedReply {
  let current = reply;
  let firstByteMs = 0;
  let betweenChunksMs = 0;
  const alternatives: string[] = [];
  for (let depth = 0; ; depth++) {
    firstByteMs = current.delay?.firstByteMs ?? firstByteMs;
    betweenChunksMs = current.delay?.betweenChunksMs ?? betweenChunksMs;
    const choice = current.choice;
    if (choice === undefined) break;
    const picked = pickAlternative(choice, draw(depth));
    const alternative = choice[picked];
    if (alternative === undefined) break;
    alternatives.push(alternative.name ?? String(picked + 1));
    current = alternative.reply;
  }
  return {
    text: current.text,
    reasoning: current.reasoning,
    toolCalls: (current.toolCalls ?? []).map((call) => ({
      name: call.name,
      arguments: call.arguments ?? {},
    })),
    error: current.error,
    firstByteMs,
    betweenChunksMs,
    alternatives,
  };
}

function pickAlternative(alternatives: NonNullable<ScriptReply["choice"]>, uniform: number): number {
  const given = alternatives.reduce((sum, alternative) => sum + (alternative.probability ?? 0), 0);
  const remainder = Math.max(0, 1 - given);
  let cumulative = 0;
  for (let index = 0; index < alternatives.length; index++) {
    cumulative += alternatives[index]?.probability ?? remainder;
    if (uniform < cumulative) return index;
  }
  // Rounding can leave the top of [0, 1) uncovered; it belongs to the last alternative with any weight.
  for (let index = alternatives.length - 1; index >= 0; index--) {
    if ((alternatives[index]?.probability ?? remainder) > 0) return index;
  }
  return alternatives.length - 1;
}
