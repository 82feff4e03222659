import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { OversightApi } from "./oversight-api.js";

const openApi = JSON.parse(readFileSync(new URL("../../docs/openapi.json", import.meta.url), "utf8")) as {
  openapi: string;
  paths: Record<string, Record<string, { "x-warden-role": string }>>;
};

describe("docs/openapi.json", () => {
  const api = new OversightApi({} as never);
  const inCode = api.routes.map((route) => `${route.method} ${route.path} ${route.role}`).sort();
  const documented = Object.entries(openApi.paths)
    .flatMap(([path, operations]) =>
      Object.entries(operations).map(
        ([method, operation]) => `${method.toUpperCase()} ${path} ${operation["x-warden-role"]}`,
      ),
    )
    .sort();

  it("is OpenAPI 3.1", () => {
    expect(openApi.openapi).toBe("3.1.0");
  });

  it("documents exactly the routes in the code, each with the role the code enforces", () => {
    expect(documented).toEqual(inCode);
  });
});
