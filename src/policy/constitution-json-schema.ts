import { z } from "zod";
import { constitutionSchema } from "./constitution-schema.js";

/**
 * The JSON Schema (draft 2020-12) of constitution files, for editors. It describes the file as
 * written (defaults optional); conditions are only checked by `warden policy check`.
 * Checked in as `policies/constitution.schema.json`.
 */
export function constitutionJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(constitutionSchema, { io: "input", target: "draft-2020-12" }),
    title: "Warden constitution",
  };
}
