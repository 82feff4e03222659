import { describe, expect, it } from "vitest";
import { constitutionJsonSchema } from "./constitution-json-schema.js";

type SchemaNode = { description?: string; properties?: Record<string, SchemaNode>; items?: SchemaNode };

function undescribedFields(node: SchemaNode, path: string): string[] {
  const missing: string[] = [];
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    if (!child.description) missing.push(`${path}.${key}`);
    missing.push(...undescribedFields(child, `${path}.${key}`));
  }
  if (node.items) missing.push(...undescribedFields(node.items, `${path}[]`));
  return missing;
}

describe("constitutionJsonSchema", () => {
  it("is checked in as policies/constitution.schema.json (regenerate with vitest -u)", async () => {
    await expect(`${JSON.stringify(constitutionJsonSchema(), null, 2)}\n`).toMatchFileSnapshot(
      "../../policies/constitution.schema.json",
    );
  });

  it("describes every field for editors", () => {
    expect(undescribedFields(constitutionJsonSchema() as SchemaNode, "constitution")).toEqual([]);
  });

  it("rejects unknown keys and requires the version and the default", () => {
    const schema = constitutionJsonSchema() as { additionalProperties?: boolean; required?: string[] };
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(["version", "default"]);
  });
});
