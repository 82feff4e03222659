import type { Environment, ParseResult } from "@marcbachmann/cel-js";
import { type ConditionContext, linearTimeMatchesFunction } from "./condition-environment.js";
import {
  type ConditionNode,
  conditionTreesEqual,
  isConditionNode,
  serializeCondition,
} from "./serialize-condition.js";
import { extractToolConstraint, type ToolConstraint } from "./tool-constraint.js";

/** `holds` is true only for the boolean `true`; anything else that is not `false` is an error. */
export type ConditionOutcome = { holds: boolean; error?: undefined } | { holds: false; error: string };

export interface CompiledCondition {
  evaluate(context: ConditionContext): ConditionOutcome;
  toolConstraint: ToolConstraint;
  /** The condition reads `result`: it is evaluated when the call's result arrives, not before. */
  readsResult: boolean;
}

export type CompileConditionResult =
  | { ok: true; condition: CompiledCondition }
  | { ok: false; problem: string };

const holdsOutcome: ConditionOutcome = { holds: true };
const failsOutcome: ConditionOutcome = { holds: false };

/**
 * Compiles one `when` expression: parse, type-check against the condition environment, and
 * route every `matches` call to RE2.
 *
 * cel-js's built-in `string.matches` uses JavaScript's backtracking RegExp and cannot be
 * overridden, so the expression is rewritten: `matches` calls are renamed to a function backed
 * by RE2, the tree is written back out, parsed again, and compared with the renamed tree. An
 * expression that does not survive the round trip is refused rather than evaluated with
 * backtracking.
 */
export function compileCondition(environment: Environment, expression: string): CompileConditionResult {
  let parsed: ParseResult;
  try {
    parsed = environment.parse(expression);
  } catch (error) {
    return { ok: false, problem: describeCelError(error) };
  }
  const tree = parsed.ast as unknown as ConditionNode;
  const toolConstraint = extractToolConstraint(tree);
  const readsResult = mentionsIdentifier(tree, "result");
  // Renamed before type-checking: CEL's global `matches(text, pattern)` exists only under the
  // new name, and type errors should still point into the expression as written.
  const hasMatches = renameMatchesCalls(tree);
  const typeCheck = parsed.check();
  if (!typeCheck.valid) return { ok: false, problem: describeCelError(typeCheck.error) };
  if (typeCheck.type !== "bool" && typeCheck.type !== "dyn") {
    return { ok: false, problem: `the condition must be a boolean, but it is ${typeCheck.type}` };
  }

  if (hasMatches) {
    let rewritten: ParseResult;
    try {
      rewritten = environment.parse(serializeCondition(tree));
    } catch (error) {
      return {
        ok: false,
        problem: `cannot prepare \`matches\` for RE2 evaluation: ${describeCelError(error)}`,
      };
    }
    if (!conditionTreesEqual(tree, rewritten.ast)) {
      return {
        ok: false,
        problem: "cannot prepare `matches` for RE2 evaluation: the rewritten expression differs; simplify it",
      };
    }
    const rewrittenCheck = rewritten.check();
    if (!rewrittenCheck.valid) return { ok: false, problem: describeCelError(rewrittenCheck.error) };
    parsed = rewritten;
  }

  const evaluateParsed = parsed;
  return {
    ok: true,
    condition: {
      toolConstraint,
      readsResult,
      evaluate(context) {
        let value: unknown;
        try {
          value = evaluateParsed(context);
        } catch (error) {
          return { holds: false, error: describeCelError(error, false) };
        }
        if (value === true) return holdsOutcome;
        if (value === false) return failsOutcome;
        return { holds: false, error: `the condition evaluated to ${describeValue(value)}, not a boolean` };
      },
    },
  };
}

/** Renames every `matches(...)` call in place; returns whether there was one. */
function renameMatchesCalls(value: unknown): boolean {
  let renamed = false;
  if (Array.isArray(value)) {
    for (const item of value) renamed = renameMatchesCalls(item) || renamed;
    return renamed;
  }
  if (!isConditionNode(value)) return false;
  if (
    (value.op === "call" || value.op === "rcall") &&
    Array.isArray(value.args) &&
    value.args[0] === "matches"
  ) {
    value.args[0] = linearTimeMatchesFunction;
    renamed = true;
  }
  if (value.op !== "value") renamed = renameMatchesCalls(value.args) || renamed;
  return renamed;
}

// Positions are useful when the constitution is checked; at decision time the expression may
// be the rewritten one, whose positions would mislead.
function describeCelError(error: unknown, withPosition = true): string {
  if (error instanceof Error) {
    const summary = (error as { summary?: unknown }).summary;
    const range = (error as { range?: { start: number } }).range;
    const text = (
      typeof summary === "string" ? summary : (error.message.split("\n")[0] ?? error.message)
    ).replaceAll(linearTimeMatchesFunction, "matches");
    return range && withPosition ? `${text} (at character ${range.start + 1} of the condition)` : text;
  }
  return String(error);
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "bigint") return `the int ${value}`;
  if (typeof value === "string") return "a string";
  if (typeof value === "number") return `the double ${value}`;
  if (Array.isArray(value)) return "a list";
  if (value instanceof Promise) return "a promise";
  return `a ${typeof value}`;
}

/** Whether the tree refers to a variable by name anywhere. */
function mentionsIdentifier(root: unknown, name: string): boolean {
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const node = pending.pop();
    if (Array.isArray(node)) pending.push(...node);
    else if (node !== null && typeof node === "object") {
      const { op, args } = node as { op?: unknown; args?: unknown };
      if (op === "id" && args === name) return true;
      pending.push(args);
    }
  }
  return false;
}
