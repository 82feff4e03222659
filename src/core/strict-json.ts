import { WardenError } from "./errors.js";

/**
 * Parses JSON that came from outside (an agent, a tool, a socket peer) strictly: duplicate
 * keys, integers beyond 2^53 and lone UTF-16 surrogates are rejected, because two readers
 * could disagree on what such a document means (RFC 8259 §4 leaves duplicates undefined;
 * RFC 7493 I-JSON forbids all three).
 */
export function parseStrictJson(text: string, maxBytes = 16 * 1024 * 1024): unknown {
  if (text.length > maxBytes) {
    throw new WardenError("input-invalid", `JSON document is larger than ${maxBytes} bytes`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // JSON.parse throws RangeError for nesting deeper than V8's stack, SyntaxError otherwise.
    throw new WardenError("input-invalid", `invalid JSON: ${(error as Error).message}`);
  }
  assertNoDuplicateKeys(text);
  assertIJson(value, "$");
  return value;
}

function assertIJson(root: unknown, rootPath: string): void {
  // An explicit stack: the document comes from outside and may nest deeper than the call stack.
  const pending: [unknown, string][] = [[root, rootPath]];
  while (pending.length > 0) {
    const [value, path] = pending.pop()!;
    if (typeof value === "string") {
      if (!value.isWellFormed())
        throw new WardenError("input-invalid", `${path}: string contains a lone surrogate`);
    } else if (typeof value === "number") {
      if (!Number.isFinite(value)) throw new WardenError("input-invalid", `${path}: number is out of range`);
      if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
        throw new WardenError(
          "input-invalid",
          `${path}: integer ${value} is outside the safe range (±2^53-1)`,
        );
      }
    } else if (Array.isArray(value)) {
      for (let index = 0; index < value.length; index++) pending.push([value[index], `${path}[${index}]`]);
    } else if (value !== null && typeof value === "object") {
      for (const [key, item] of Object.entries(value)) {
        if (!key.isWellFormed())
          throw new WardenError("input-invalid", `${path}: key contains a lone surrogate`);
        pending.push([item, `${path}.${key}`]);
      }
    }
  }
}

/**
 * Scans already-valid JSON text for an object with a repeated key. Keys are compared after
 * unescaping, so `"a"` and `"\u0061"` are the same key.
 */
function assertNoDuplicateKeys(text: string): void {
  // Each open container is either a Set of keys (object) or null (array).
  const stack: (Set<string> | null)[] = [];
  let expectingKey = false;
  for (let index = 0; index < text.length; index++) {
    const char = text.charCodeAt(index);
    if (char === 0x22 /* " */) {
      const start = index;
      index++;
      let escaped = false;
      while (index < text.length) {
        const inner = text.charCodeAt(index);
        if (inner === 0x5c /* \ */) {
          escaped = true;
          index += 2;
          continue;
        }
        if (inner === 0x22) break;
        index++;
      }
      const keys = stack[stack.length - 1];
      if (expectingKey && keys) {
        const raw = text.slice(start, index + 1);
        const key = escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        if (keys.has(key)) throw new WardenError("input-invalid", `duplicate key "${key}" in JSON object`);
        keys.add(key);
        expectingKey = false;
      }
    } else if (char === 0x7b /* { */) {
      stack.push(new Set());
      expectingKey = true;
    } else if (char === 0x5b /* [ */) {
      stack.push(null);
      expectingKey = false;
    } else if (char === 0x7d /* } */ || char === 0x5d /* ] */) {
      stack.pop();
      expectingKey = false;
    } else if (char === 0x2c /* , */) {
      expectingKey = stack[stack.length - 1] !== null && stack.length > 0;
    }
  }
}
