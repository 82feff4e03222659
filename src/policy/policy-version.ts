import { createHash } from "node:crypto";
import { canonicalJson } from "../core/canonical-json.js";
import type { Constitution } from "./constitution-schema.js";

// Domain separation, as for events: this hash can never collide with one over another structure.
const policyDomain = "warden/policy/v1\n";

/**
 * `sha256:<hex>` over the canonical JSON (RFC 8785) of the parsed constitution (defaults
 * applied, so spelling out a default does not change it) and of what the built-in rules
 * protect. Formatting and comments in the file do not change it; any rule change does.
 */
export function computePolicyVersion(constitution: Constitution | null, builtinFingerprint: unknown): string {
  const body = canonicalJson({ constitution, builtins: builtinFingerprint });
  return `sha256:${createHash("sha256").update(policyDomain).update(body).digest("hex")}`;
}
