import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PhysicalPathResolver } from "./physical-path.js";

const root = realpathSync(mkdtempSync(path.join(tmpdir(), "warden-physical-path-")));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const target = path.join(root, "target");
const workspace = path.join(root, "workspace");
mkdirSync(path.join(target, "inner"), { recursive: true });
mkdirSync(workspace);
symlinkSync(path.join(target, "inner"), path.join(workspace, "absolute-link"));
symlinkSync("../target", path.join(workspace, "relative-link"));
symlinkSync("loop-b", path.join(workspace, "loop-a"));
symlinkSync("loop-a", path.join(workspace, "loop-b"));

describe("PhysicalPathResolver", () => {
  const resolver = () => new PhysicalPathResolver(workspace);

  it("resolves relative paths from its base and normalises dots and slashes", () => {
    expect(resolver().resolve("a//b/./c/../d")).toBe(path.join(workspace, "a", "b", "d"));
    expect(resolver().resolve("/x/../y")).toBe("/y");
  });

  it("follows absolute and relative links, applying .. after the link as the kernel does", () => {
    expect(resolver().resolve("absolute-link/file")).toBe(path.join(target, "inner", "file"));
    expect(resolver().resolve("relative-link/inner")).toBe(path.join(target, "inner"));
    expect(resolver().resolve("absolute-link/../x")).toBe(path.join(target, "x"));
  });

  it("checks links again after climbing out of a directory that does not exist", () => {
    expect(resolver().resolve("missing/../absolute-link/file")).toBe(path.join(target, "inner", "file"));
  });

  it("gives up on a link loop with the lexical path instead of spinning", () => {
    expect(resolver().resolve("loop-a/x")).toBe(path.join(workspace, "loop-a", "x"));
  });
});
