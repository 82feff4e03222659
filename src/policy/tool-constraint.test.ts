import { Environment } from "@marcbachmann/cel-js";
import { describe, expect, it } from "vitest";
import type { ConditionNode } from "./serialize-condition.js";
import { constraintAllows, extractToolConstraint } from "./tool-constraint.js";

const environment = new Environment({ unlistedVariablesAreDyn: true });

function constraintOf(expression: string) {
  const { names, servers } = extractToolConstraint(
    environment.parse(expression).ast as unknown as ConditionNode,
  );
  return { names: names && [...names].sort(), servers: servers && [...servers].sort() };
}

describe("extractToolConstraint", () => {
  it("reads tool.name and tool.server equalities among top-level conjuncts, either way round", () => {
    expect(constraintOf('tool.name == "write_file"')).toEqual({ names: ["write_file"], servers: undefined });
    expect(
      constraintOf('"files" == tool.server && tool.arguments.size > 3.0 && tool.name == "write_file"'),
    ).toEqual({
      names: ["write_file"],
      servers: ["files"],
    });
  });

  it("reads membership in a list of string literals", () => {
    expect(constraintOf('tool.name in ["read_file", "list_dir"]')).toEqual({
      names: ["list_dir", "read_file"],
      servers: undefined,
    });
  });

  it("intersects several requirements on the same field", () => {
    expect(constraintOf('tool.name in ["a", "b"] && tool.name == "b"').names).toEqual(["b"]);
    expect(constraintOf('tool.name == "a" && tool.name == "b"').names).toEqual([]);
  });

  it("ignores requirements under ||, !, != or with non-literal values", () => {
    for (const expression of [
      'tool.name == "a" || tool.name == "b"',
      '!(tool.name == "a")',
      'tool.name != "a"',
      "tool.name == tool.arguments.name",
      'tool.name in ["a", tool.arguments.name]',
      'tool.name.startsWith("a")',
      'tool.arguments.name == "a"',
      '(tool.name == "a") == true',
    ]) {
      expect(constraintOf(expression), expression).toEqual({ names: undefined, servers: undefined });
    }
  });

  it("admits a call only when every constrained field matches", () => {
    const constraint = { names: new Set(["write_file"]), servers: new Set(["files"]) };
    expect(constraintAllows(constraint, "files", "write_file")).toBe(true);
    expect(constraintAllows(constraint, "mail", "write_file")).toBe(false);
    expect(constraintAllows(constraint, "files", "read_file")).toBe(false);
    expect(constraintAllows({ names: undefined, servers: undefined }, "any", "thing")).toBe(true);
  });
});
