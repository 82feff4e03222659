import { RE2JS } from "re2js";

const cachedPatternLimit = 512;

/**
 * CEL's `matches` is specified as RE2 (linear time). The JavaScript RegExp engine backtracks:
 * `^(a+)+$` against thirty a's and a b takes seconds, so a pattern in a rule (or one an agent
 * supplies through its arguments) could stall every decision. RE2JS guarantees linear time.
 *
 * Returns a partial-match function (CEL semantics: `"abc".matches("b")` is true) that keeps a
 * bounded cache of compiled patterns, since patterns may come from agent-controlled values.
 */
export function createLinearTimeMatcher(): (text: string, pattern: string) => boolean {
  const compiled = new Map<string, RE2JS>();
  return (text, pattern) => {
    let expression = compiled.get(pattern);
    if (expression === undefined) {
      try {
        expression = RE2JS.compile(pattern);
      } catch (error) {
        throw new Error(
          `invalid RE2 regular expression ${JSON.stringify(pattern)}: ${(error as Error).message}`,
        );
      }
      if (compiled.size >= cachedPatternLimit) {
        const oldest = compiled.keys().next().value;
        if (oldest !== undefined) compiled.delete(oldest);
      }
      compiled.set(pattern, expression);
    }
    return expression.matcher(text).find();
  };
}
