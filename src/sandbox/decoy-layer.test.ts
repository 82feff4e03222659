import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ChangeSet, FileChange } from "./change-set.js";
import { decoyDirectory, plantSandboxDecoys, withoutDecoys } from "./decoy-layer.js";
import { openWorkspaceLayer } from "./workspace-layer.js";

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

function layerFixture() {
  const root = mkdtempSync(path.join(tmpdir(), "warden-decoy-layer-"));
  roots.push(root);
  const workspace = path.join(root, "workspace");
  mkdirSync(path.join(workspace, "config"), { recursive: true });
  writeFileSync(path.join(workspace, "config", "real.env"), "REAL=1\n");
  writeFileSync(path.join(workspace, "a-file"), "x");
  return { workspace, layer: openWorkspaceLayer(path.join(root, "data"), "s1", workspace) };
}

const file = (changePath: string, kind: FileChange["kind"] = "added"): FileChange => ({
  path: changePath,
  kind,
  before: { type: "absent" },
  after: { type: "file", sha256: "0", size: 1, mode: 0o644 },
});
const directory = (changePath: string): FileChange => ({
  path: changePath,
  kind: "added",
  before: { type: "absent" },
  after: { type: "directory", mode: 0o755 },
});

describe("the decoy layer", () => {
  it("plants once, never over a real path or through a file, and leaves the workspace alone", () => {
    const { workspace, layer } = layerFixture();
    const planted = plantSandboxDecoys(layer, [
      { path: ".aws/credentials", content: "key" },
      { path: "config/real.env", content: "decoy" },
      { path: "config/backup.env", content: "TOKEN=x" },
      { path: "a-file/inside", content: "no" },
      { path: "../escape", content: "no" },
    ]);
    expect(planted.map((decoy) => decoy.path)).toEqual([".aws/credentials", "config/backup.env"]);
    expect(readFileSync(path.join(decoyDirectory(layer), ".aws/credentials"), "utf8")).toBe("key");
    expect(readFileSync(path.join(workspace, "config/real.env"), "utf8")).toBe("REAL=1\n");
    expect(plantSandboxDecoys(layer, [{ path: "other", content: "" }])).toEqual([]);
  });

  it("drops decoys and decoy-only directories from a change set, keeping copies and the agent's own files", () => {
    const { layer } = layerFixture();
    plantSandboxDecoys(layer, [
      { path: ".aws/credentials", content: "key" },
      { path: "config/backup.env", content: "TOKEN=x" },
    ]);
    const changeSet = (changes: FileChange[]): ChangeSet => ({
      id: "c",
      sessionId: "s1",
      workspace: "/w",
      changes,
    });
    expect(
      withoutDecoys(
        changeSet([
          directory(".aws"),
          file(".aws/credentials"),
          file("config/backup.env", "modified"),
          file("copy"),
        ]),
        layer,
      ).changes.map((change) => change.path),
    ).toEqual(["copy"]);
    expect(
      withoutDecoys(
        changeSet([directory(".aws"), file(".aws/credentials"), file(".aws/mine")]),
        layer,
      ).changes.map((change) => change.path),
    ).toEqual([".aws", ".aws/mine"]);
  });
});
