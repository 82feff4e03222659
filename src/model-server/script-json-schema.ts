import { z } from "zod";
import { scriptSchema } from "./script-schema.js";

/**
 * The JSON Schema (draft 2020-12) of model script files, for editors. Cross-field checks
 * (probabilities adding up, RE2 syntax, an error reply having no content) are only made by
 * `parseScript`.
 */
export function scriptJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(scriptSchema, { io: "input", target: "draft-2020-12" }),
    title: "Warden scripted model (a test instrument)",
  };
}
