import { describe, expect, it } from "vitest";
import { argumentWords, toolKey } from "./call-facts.js";

const splitReference = (text: string) =>
  text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((word) => word.length > 0);

describe("argumentWords", () => {
  it("splits ASCII and non-ASCII strings and numbers at anything but letters and digits", () => {
    const words = argumentWords({
      command: "Cat /ETC/shadow && base64 ./id_rsa",
      nested: [42, 1e21, -0.5, { path: "Straße/naïve—файл.txt" }],
    });
    expect([...words]).toEqual([
      "cat",
      "etc",
      "shadow",
      "base64",
      "id",
      "rsa",
      "42",
      "1e",
      "21",
      "0",
      "5",
      "straße",
      "naïve",
      "файл",
      "txt",
    ]);
  });

  it("finds the same words as a Unicode split for every printable ASCII character", () => {
    const text = Array.from({ length: 95 }, (_, index) => String.fromCharCode(32 + index)).join("x");
    expect([...argumentWords(text)]).toEqual([...new Set(splitReference(text))]);
  });
});

describe("toolKey", () => {
  it("is server/tool, the same string for repeated calls", () => {
    const data = { server: "work", tool: "read_file" } as Parameters<typeof toolKey>[0];
    expect(toolKey(data)).toBe("work/read_file");
    expect(toolKey({ ...data, tool: "edit_file" })).toBe("work/edit_file");
    expect(toolKey(data)).toBe("work/read_file");
  });
});
