import { UnsignedInt } from "@marcbachmann/cel-js/evaluator";

/** The shape of a cel-js AST node we rely on: an operator and its operands. */
export interface ConditionNode {
  op: string;
  args: unknown;
}

export function isConditionNode(value: unknown): value is ConditionNode {
  return typeof value === "object" && value !== null && "op" in value && "args" in value;
}

const binaryOperators = new Set([
  "||",
  "&&",
  "==",
  "!=",
  "<",
  "<=",
  ">",
  ">=",
  "in",
  "+",
  "-",
  "*",
  "/",
  "%",
]);

/**
 * Writes a cel-js AST back as CEL text, parenthesising every compound subexpression.
 *
 * cel-js exports `serialize`, but it does not round-trip: it drops the parentheses of
 * `a - (b - c)` and `a == (b == c)` and prints doubles with nine fraction digits. Full
 * parenthesisation makes precedence and associativity irrelevant; callers still verify the
 * round trip with `conditionTreesEqual` and refuse an expression that does not survive it.
 */
export function serializeCondition(node: ConditionNode): string {
  const { op, args } = node;
  if (binaryOperators.has(op)) {
    const [left, right] = args as [ConditionNode, ConditionNode];
    return `(${serializeCondition(left)} ${op} ${serializeCondition(right)})`;
  }
  switch (op) {
    case "value":
      return serializeLiteral(args);
    case "id":
      return args as string;
    case "!_":
      return `(!${serializeCondition(args as ConditionNode)})`;
    case "-_":
      return `(-${serializeCondition(args as ConditionNode)})`;
    case ".":
    case ".?": {
      const [receiver, field] = args as [ConditionNode, string];
      return `${serializeCondition(receiver)}${op}${field}`;
    }
    case "[]":
    case "[?]": {
      const [receiver, index] = args as [ConditionNode, ConditionNode];
      return `${serializeCondition(receiver)}${op === "[]" ? "[" : "[?"}${serializeCondition(index)}]`;
    }
    case "call": {
      const [name, callArguments] = args as [string, ConditionNode[]];
      return `${name}(${callArguments.map(serializeCondition).join(", ")})`;
    }
    case "rcall": {
      const [name, receiver, callArguments] = args as [string, ConditionNode, ConditionNode[]];
      return `${serializeCondition(receiver)}.${name}(${callArguments.map(serializeCondition).join(", ")})`;
    }
    case "list":
      return `[${(args as ConditionNode[]).map(serializeCondition).join(", ")}]`;
    case "map":
      return `{${(args as [ConditionNode, ConditionNode][])
        .map(([key, value]) => `${serializeCondition(key)}: ${serializeCondition(value)}`)
        .join(", ")}}`;
    case "?:": {
      const [condition, consequent, alternative] = args as [ConditionNode, ConditionNode, ConditionNode];
      return `(${serializeCondition(condition)} ? ${serializeCondition(consequent)} : ${serializeCondition(alternative)})`;
    }
    default:
      throw new Error(`cannot serialize CEL operator ${op}`);
  }
}

function serializeLiteral(value: unknown): string {
  if (value === null || typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (typeof value === "string") return serializeString(value);
  if (typeof value === "number") {
    if (Object.is(value, -0)) return "-0.0";
    // CEL needs a dot or an exponent to read a double; String() gives the shortest exact form.
    const text = String(value);
    return /[.e]/.test(text) ? text : `${text}.0`;
  }
  if (value instanceof UnsignedInt) return `${value.value}u`;
  if (value instanceof Uint8Array) return serializeBytes(value);
  throw new Error(`cannot serialize CEL literal of type ${typeof value}`);
}

function serializeString(text: string): string {
  let result = '"';
  for (const character of text) {
    const code = character.codePointAt(0) ?? 0;
    if (character === "\\") result += "\\\\";
    else if (character === '"') result += '\\"';
    else if (character === "\n") result += "\\n";
    else if (character === "\r") result += "\\r";
    else if (character === "\t") result += "\\t";
    else if (code < 0x20 || code === 0x7f) result += `\\u${code.toString(16).padStart(4, "0")}`;
    else result += character;
  }
  return `${result}"`;
}

function serializeBytes(bytes: Uint8Array): string {
  let result = 'b"';
  for (const byte of bytes) {
    if (byte === 0x5c) result += "\\\\";
    else if (byte === 0x22) result += '\\"';
    else if (byte >= 0x20 && byte <= 0x7e) result += String.fromCharCode(byte);
    else result += `\\x${byte.toString(16).padStart(2, "0")}`;
  }
  return `${result}"`;
}

/** Structural equality of two ASTs: operators and operands, ignoring source positions. */
export function conditionTreesEqual(left: unknown, right: unknown): boolean {
  if (isConditionNode(left) || isConditionNode(right)) {
    return (
      isConditionNode(left) &&
      isConditionNode(right) &&
      left.op === right.op &&
      conditionTreesEqual(left.args, right.args)
    );
  }
  if (Array.isArray(left) || Array.isArray(right)) {
    return (
      Array.isArray(left) &&
      Array.isArray(right) &&
      left.length === right.length &&
      left.every((item, index) => conditionTreesEqual(item, right[index]))
    );
  }
  if (left instanceof UnsignedInt || right instanceof UnsignedInt) {
    return left instanceof UnsignedInt && right instanceof UnsignedInt && left.value === right.value;
  }
  if (left instanceof Uint8Array || right instanceof Uint8Array) {
    return (
      left instanceof Uint8Array &&
      right instanceof Uint8Array &&
      left.length === right.length &&
      left.every((byte, index) => byte === right[index])
    );
  }
  return Object.is(left, right);
}
