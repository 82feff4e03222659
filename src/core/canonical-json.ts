import canonicalizeModule from "canonicalize";

// The package's CommonJS default export is the function itself.
const canonicalizeFunction = canonicalizeModule as unknown as (value: unknown) => string | undefined;

/** RFC 8785 JSON Canonicalization Scheme: sorted keys, ECMAScript number form, minimal escapes. */
export function canonicalJson(value: unknown): string {
  const text = canonicalizeFunction(value);
  if (text === undefined) throw new TypeError("value cannot be canonicalized as JSON");
  return text;
}
