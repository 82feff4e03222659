import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect } from "vitest";
import { createSandboxFixture, sandboxIt } from "./helpers/sandbox.js";
import { TemporaryDirectories } from "./helpers/temporary-directories.js";

const directories = new TemporaryDirectories();
afterEach(() => directories.removeAll());

const sha256 = (content: Buffer | string) => createHash("sha256").update(content).digest("hex");

describe("change sets", () => {
  sandboxIt("carry the exact unified diff of a text change", async () => {
    const { workspace, session } = createSandboxFixture(directories);
    writeFileSync(path.join(workspace, "poem.txt"), "one\ntwo\nthree\nfour\nfive\nsix\nseven\n");
    const result = await session.run(["sh", "-c", "sed -i 's/^four$/FOUR/' poem.txt"]);
    const [change] = result.changeSet.changes;
    expect(result.changeSet.changes).toHaveLength(1);
    expect(change?.diff).toBe(
      [
        "===================================================================",
        "--- a/poem.txt",
        "+++ b/poem.txt",
        "@@ -1,7 +1,7 @@",
        " one",
        " two",
        " three",
        "-four",
        "+FOUR",
        " five",
        " six",
        " seven",
        "",
      ].join("\n"),
    );
    expect(change?.before).toEqual({
      type: "file",
      sha256: sha256("one\ntwo\nthree\nfour\nfive\nsix\nseven\n"),
      size: 34,
      mode: 0o644,
    });
  });

  sandboxIt("describe a binary change by size and hash, without a diff", async () => {
    const { workspace, session } = createSandboxFixture(directories);
    writeFileSync(path.join(workspace, "blob.bin"), Buffer.from([0, 1, 2, 3]));
    const result = await session.run(["sh", "-c", "printf '\\0\\377\\0' > blob.bin"]);
    const [change] = result.changeSet.changes;
    expect(change).toMatchObject({
      path: "blob.bin",
      kind: "modified",
      binary: true,
      after: { type: "file", size: 3, sha256: sha256(Buffer.from([0, 255, 0])) },
    });
    expect(change?.diff).toBeUndefined();
    expect(session.apply(result.changeSet).outcome).toBe("applied");
    expect(readFileSync(path.join(workspace, "blob.bin"))).toEqual(Buffer.from([0, 255, 0]));
  });

  sandboxIt("show a rename as a deletion and an addition of the same content", async () => {
    const { workspace, session } = createSandboxFixture(directories);
    writeFileSync(path.join(workspace, "old-name.txt"), "content\n");
    const result = await session.run(["mv", "old-name.txt", "new-name.txt"]);
    const summary = result.changeSet.changes.map((change) => `${change.kind} ${change.path}`).sort();
    expect(summary).toEqual(["added new-name.txt", "deleted old-name.txt"]);
    const added = result.changeSet.changes.find((change) => change.kind === "added");
    expect(added?.after).toMatchObject({ type: "file", sha256: sha256("content\n") });
    expect(session.apply(result.changeSet).outcome).toBe("applied");
    expect(existsSync(path.join(workspace, "old-name.txt"))).toBe(false);
    expect(readFileSync(path.join(workspace, "new-name.txt"), "utf8")).toBe("content\n");
  });

  sandboxIt("record a permission change, and applying drops set-uid bits", async () => {
    const { workspace, session } = createSandboxFixture(directories);
    writeFileSync(path.join(workspace, "run.sh"), "#!/bin/sh\necho hi\n");
    chmodSync(path.join(workspace, "run.sh"), 0o644);
    const result = await session.run(["sh", "-c", "chmod 755 run.sh; echo x > suid; chmod 4755 suid"]);
    const modeChange = result.changeSet.changes.find((change) => change.path === "run.sh");
    expect(modeChange).toMatchObject({
      kind: "modified",
      before: { type: "file", mode: 0o644 },
      after: { type: "file", mode: 0o755 },
    });
    const suid = result.changeSet.changes.find((change) => change.path === "suid");
    expect(suid?.after).toMatchObject({ type: "file", mode: 0o4755 });
    expect(session.apply(result.changeSet).outcome).toBe("applied");
    expect(statSync(path.join(workspace, "run.sh")).mode & 0o7777).toBe(0o755);
    expect(statSync(path.join(workspace, "suid")).mode & 0o7777).toBe(0o755);
  });

  sandboxIt("delete a whole tree, deepest first", async () => {
    const { workspace, session } = createSandboxFixture(directories);
    mkdirSync(path.join(workspace, "tree/a/b"), { recursive: true });
    writeFileSync(path.join(workspace, "tree/a/b/leaf.txt"), "leaf\n");
    writeFileSync(path.join(workspace, "tree/top.txt"), "top\n");
    const result = await session.run(["rm", "-r", "tree"]);
    expect(result.changeSet.changes.every((change) => change.kind === "deleted")).toBe(true);
    expect(result.changeSet.changes.map((change) => change.path).sort()).toEqual(
      ["tree", "tree/a", "tree/a/b", "tree/a/b/leaf.txt", "tree/top.txt"].sort(),
    );
    expect(session.apply(result.changeSet).outcome).toBe("applied");
    expect(existsSync(path.join(workspace, "tree"))).toBe(false);
  });

  sandboxIt("are applied all or nothing: one conflicting file, and no file is written", async () => {
    const { workspace, session } = createSandboxFixture(directories);
    for (const name of ["a.txt", "m.txt", "z.txt"]) writeFileSync(path.join(workspace, name), "v1\n");
    const result = await session.run([
      "sh",
      "-c",
      "for f in a.txt m.txt z.txt; do echo v2 > $f; done; echo new > new.txt",
    ]);
    writeFileSync(path.join(workspace, "m.txt"), "edited on the host\n");
    const applied = session.apply(result.changeSet);
    expect(applied.outcome).toBe("refused");
    if (applied.outcome !== "refused") return;
    expect(applied.conflicts.map((conflict) => conflict.path)).toEqual(["m.txt"]);
    expect(applied.conflicts[0]?.reason).toMatch(/changed in the workspace since the session touched it/);
    for (const name of ["a.txt", "z.txt"])
      expect(readFileSync(path.join(workspace, name), "utf8")).toBe("v1\n");
    expect(existsSync(path.join(workspace, "new.txt"))).toBe(false);
  });

  sandboxIt("detect a conflict on a file the host created where the command created one too", async () => {
    const { workspace, session } = createSandboxFixture(directories);
    const result = await session.run(["sh", "-c", "echo sandbox > both.txt"]);
    writeFileSync(path.join(workspace, "both.txt"), "host\n");
    const applied = session.apply(result.changeSet);
    expect(applied.outcome).toBe("refused");
    expect(readFileSync(path.join(workspace, "both.txt"), "utf8")).toBe("host\n");
  });

  sandboxIt("refuse to apply when the scratch layer was changed after capture", async () => {
    const { workspace, session } = createSandboxFixture(directories);
    const result = await session.run(["sh", "-c", "echo reviewed > file.txt"]);
    // Someone edits the staged copy after a person reviewed the change set.
    writeFileSync(path.join(session.layer.upper, "file.txt"), "swapped after review\n");
    const applied = session.apply(result.changeSet);
    expect(applied.outcome).toBe("refused");
    expect(existsSync(path.join(workspace, "file.txt"))).toBe(false);
  });
});
