import { type ConditionNode, isConditionNode } from "./serialize-condition.js";

/**
 * What a condition requires of the call's tool name and server, read off its top-level
 * conjuncts. `undefined` means unconstrained. A rule whose constraint excludes a call cannot
 * match it: the conjunct is false, and in CEL `false && x` is false even when `x` errors.
 */
export interface ToolConstraint {
  names: ReadonlySet<string> | undefined;
  servers: ReadonlySet<string> | undefined;
}

type ToolField = "name" | "server";

/**
 * Recognises `tool.name == "x"`, `"x" == tool.name` and `tool.name in ["x", "y"]` (and the same
 * for `tool.server`) among the conjuncts of `a && b && ...`. Anything else leaves the field
 * unconstrained, which is always safe.
 */
export function extractToolConstraint(root: ConditionNode): ToolConstraint {
  let names: Set<string> | undefined;
  let servers: Set<string> | undefined;
  for (const conjunct of topLevelConjuncts(root)) {
    const requirement = readRequirement(conjunct);
    if (!requirement) continue;
    if (requirement.field === "name") names = intersect(names, requirement.values);
    else servers = intersect(servers, requirement.values);
  }
  return { names, servers };
}

export function constraintAllows(constraint: ToolConstraint, server: string, name: string): boolean {
  return (
    (constraint.names === undefined || constraint.names.has(name)) &&
    (constraint.servers === undefined || constraint.servers.has(server))
  );
}

function topLevelConjuncts(node: ConditionNode): ConditionNode[] {
  if (node.op !== "&&") return [node];
  const [left, right] = node.args as [ConditionNode, ConditionNode];
  return [...topLevelConjuncts(left), ...topLevelConjuncts(right)];
}

function readRequirement(node: ConditionNode): { field: ToolField; values: Set<string> } | undefined {
  if (node.op === "==") {
    const [left, right] = node.args as [ConditionNode, ConditionNode];
    const field = toolField(left) ?? toolField(right);
    const literal = stringLiteral(toolField(left) ? right : left);
    if (field && literal !== undefined) return { field, values: new Set([literal]) };
    return undefined;
  }
  if (node.op === "in") {
    const [element, collection] = node.args as [ConditionNode, ConditionNode];
    const field = toolField(element);
    if (!field || collection.op !== "list") return undefined;
    const values = new Set<string>();
    for (const item of collection.args as ConditionNode[]) {
      const literal = stringLiteral(item);
      if (literal === undefined) return undefined;
      values.add(literal);
    }
    return { field, values };
  }
  return undefined;
}

function toolField(node: ConditionNode): ToolField | undefined {
  if (node.op !== ".") return undefined;
  const [receiver, field] = node.args as [unknown, string];
  if (!isConditionNode(receiver) || receiver.op !== "id" || receiver.args !== "tool") return undefined;
  return field === "name" || field === "server" ? field : undefined;
}

function stringLiteral(node: ConditionNode): string | undefined {
  return node.op === "value" && typeof node.args === "string" ? node.args : undefined;
}

function intersect(current: Set<string> | undefined, values: Set<string>): Set<string> {
  if (current === undefined) return values;
  return new Set([...current].filter((value) => values.has(value)));
}
