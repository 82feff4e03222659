import { Environment, serialize } from "@marcbachmann/cel-js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type ConditionNode, conditionTreesEqual, serializeCondition } from "./serialize-condition.js";

const environment = new Environment({ unlistedVariablesAreDyn: true, homogeneousAggregateLiterals: false });

function tree(expression: string): ConditionNode {
  return environment.parse(expression).ast as unknown as ConditionNode;
}

function roundTrips(expression: string): boolean {
  const original = tree(expression);
  return conditionTreesEqual(original, tree(serializeCondition(original)));
}

const maybeParenthesised = (text: string) => fc.constantFrom(text, `(${text})`);

const literal = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((value) => `${value}u`),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((value) => {
    const text = String(value);
    return /[.e]/.test(text) ? text : `${text}.0`;
  }),
  fc.string({ unit: "grapheme", maxLength: 8 }).map((text) => JSON.stringify(text)),
  fc.constantFrom("true", "false", "null", 'b"\\x00ab"', 'r"\\d+"'),
);

const identifier = fc.constantFrom("a", "b", "tool", "session");

const { expression } = fc.letrec<{ expression: string }>((recurse) => ({
  expression: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    literal,
    identifier,
    fc
      .tuple(
        recurse("expression"),
        fc.constantFrom("||", "&&", "==", "!=", "<", "<=", ">", ">=", "in", "+", "-", "*", "/", "%"),
        recurse("expression"),
      )
      .chain(([left, operator, right]) => maybeParenthesised(`${left} ${operator} ${right}`)),
    fc
      .tuple(fc.constantFrom("!", "-"), recurse("expression"))
      .map(([operator, operand]) => `${operator}(${operand})`),
    fc
      .tuple(recurse("expression"), recurse("expression"), recurse("expression"))
      .chain(([condition, consequent, alternative]) =>
        maybeParenthesised(`${condition} ? ${consequent} : ${alternative}`),
      ),
    fc
      .tuple(identifier, fc.constantFrom("name", "arguments", "labels"))
      .map(([receiver, field]) => `${receiver}.${field}`),
    fc.tuple(identifier, recurse("expression")).map(([receiver, index]) => `${receiver}[${index}]`),
    fc
      .tuple(
        fc.constantFrom("size", "matches", "int", "has"),
        fc.array(recurse("expression"), { maxLength: 2 }),
      )
      .map(([name, callArguments]) => `${name}(${callArguments.join(", ")})`),
    fc
      .tuple(
        fc.oneof(
          identifier,
          recurse("expression").map((receiver) => `(${receiver})`),
        ),
        fc.constantFrom("startsWith", "matches", "contains"),
        recurse("expression"),
      )
      .map(([receiver, name, argument]) => `${receiver}.${name}(${argument})`),
    recurse("expression").map((receiver) => `(${receiver}).field`),
    fc.tuple(identifier, recurse("expression")).map(([receiver, body]) => `${receiver}.exists(x, ${body})`),
    fc.array(recurse("expression"), { maxLength: 3 }).map((items) => `[${items.join(", ")}]`),
    fc
      .array(fc.tuple(literal, recurse("expression")), { maxLength: 2 })
      .map((entries) => `{${entries.map(([key, value]) => `${key}: ${value}`).join(", ")}}`),
  ),
}));

describe("serializeCondition", () => {
  it("round-trips the expressions cel-js's own serialize gets wrong", () => {
    const expressions = [
      "a - (b - c)",
      "a == (b == c)",
      "a || (b || c)",
      "1.23456789012345 > a",
      "1.5e-10 < a",
    ];
    for (const text of expressions) {
      const original = tree(text);
      expect(conditionTreesEqual(original, tree(serialize(original as never)))).toBe(false);
      expect(roundTrips(text)).toBe(true);
    }
  });

  it("round-trips every expression that parses", () => {
    let parsedCount = 0;
    fc.assert(
      fc.property(expression, (text) => {
        let parsed: ConditionNode;
        try {
          parsed = tree(text);
        } catch {
          return true; // Not CEL: nothing to round-trip.
        }
        parsedCount++;
        return conditionTreesEqual(parsed, tree(serializeCondition(parsed)));
      }),
      { numRuns: 2000 },
    );
    // The generator must mostly produce CEL, or the property says little.
    expect(parsedCount).toBeGreaterThan(1000);
  });

  it("tells different trees apart", () => {
    expect(conditionTreesEqual(tree("a - (b - c)"), tree("(a - b) - c"))).toBe(false);
    expect(conditionTreesEqual(tree("1u == a"), tree("2u == a"))).toBe(false);
    expect(conditionTreesEqual(tree('b"ab" == a'), tree('b"ac" == a'))).toBe(false);
    expect(conditionTreesEqual(tree("-0.0 == a"), tree("0.0 == a"))).toBe(false);
    expect(conditionTreesEqual(tree("a.b(c)"), tree("a.b(c)"))).toBe(true);
  });
});
