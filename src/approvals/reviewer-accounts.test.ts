import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ReviewerAccounts, roleAtLeast } from "./reviewer-accounts.js";

let dataDir: string;
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

describe("reviewer accounts", () => {
  it("keep only a scrypt hash of the password and a SHA-256 of the token", async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), "warden-accounts-"));
    const accounts = new ReviewerAccounts(dataDir);
    const token = await accounts.add("alice", "admin", "correct horse battery");
    const file = readFileSync(path.join(dataDir, "reviewers.json"), "utf8");
    expect(file).not.toContain("correct horse battery");
    expect(file).not.toContain(token);
    expect(JSON.parse(file)[0].password).toMatchObject({ algorithm: "scrypt", N: 32768, r: 8 });
    const reopened = new ReviewerAccounts(dataDir);
    expect(reopened.accountForToken(token)).toEqual({ name: "alice", role: "admin" });
    expect(reopened.accountForToken(`${token}x`)).toBeNull();
    expect(await reopened.checkPassword("alice", "correct horse battery")).toEqual({
      name: "alice",
      role: "admin",
    });
    expect(await reopened.checkPassword("alice", "correct horse batterY")).toBeNull();
    expect(await reopened.checkPassword("mallory", "correct horse battery")).toBeNull();
  });

  it("refuse a duplicate name, a bad name and a short password", async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), "warden-accounts-"));
    const accounts = new ReviewerAccounts(dataDir);
    await accounts.add("bob", "viewer", null);
    await expect(accounts.add("bob", "admin", null)).rejects.toThrow(/exists already/);
    await expect(accounts.add("bad name", "admin", null)).rejects.toThrow(/name: must match/);
    await expect(accounts.add("carol", "admin", "short")).rejects.toThrow(/at least 12/);
    expect(await accounts.checkPassword("bob", "")).toBeNull();
  });

  it("order roles viewer < reviewer < admin", () => {
    expect(roleAtLeast("admin", "reviewer")).toBe(true);
    expect(roleAtLeast("reviewer", "reviewer")).toBe(true);
    expect(roleAtLeast("viewer", "reviewer")).toBe(false);
    expect(roleAtLeast("reviewer", "admin")).toBe(false);
  });
});
