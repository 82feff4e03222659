import { describe, expect, it } from "vitest";
import { runWarden } from "./helpers/mcp-client.js";

describe("warden demo (the README's start command)", () => {
  it("shows an allowed, a held-then-approved and a denied call, an unsupported claim, and an intact log", () => {
    const result = runWarden(["demo", "--exit"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/scripted model server .*\(a test instrument, not a model\)/);
    expect(result.stdout).toContain("read_text_file: allow (rule reading-is-fine)");
    expect(result.stdout).toContain("write_file: hold (rule writes-need-review) → approved by a reviewer");
    expect(result.stdout).toContain("move_file: deny (rule no-deleting-or-moving)");
    expect(result.stdout).toMatch(/final claim: .*all tests pass/);
    expect(result.stdout).toContain("the claim is not supported by the record");
    expect(result.stdout).toMatch(/warden verify: intact/);
    expect(result.stdout).toMatch(/model-request/);
  });
});
