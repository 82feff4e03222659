import { describe, expect, it } from "vitest";
import { createSecretRedactor, mayHoldSecret, secretPatterns } from "./redact-secrets.js";

const redact = createSecretRedactor(Buffer.alloc(32, 3));

// One credential of each shape the patterns know, in the cases they accept.
const samples = [
  "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789",
  "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX",
  "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
  "gho_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
  "xoxb-1234567890-abcdef",
  "AKIAIOSFODNN7EXAMPLE",
  "wdn_abcdefghijklmnopqrstuvwxyz",
  "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
  "Bearer abcdefghijklmnopqrstuvwxyz",
  "DATABASE_PASSWORD=correct-horse",
  "db_passwd: correct-horse",
  "export GITHUB_TOKEN='abcdefgh'",
  "client_secret = abcdefgh",
  "OPENAI_API_KEY=abcdefgh",
  "apikey: abcdefgh",
  "SSH_PRIVATE_KEY=abcdefgh",
];

describe("secret redaction", () => {
  it("replaces every known credential shape inside free text with a fingerprint", () => {
    for (const sample of samples) {
      const redacted = redact({ note: `before ${sample} after` }) as { note: string };
      expect(redacted.note, sample).toMatch(/secret:[0-9a-f]{16}/);
    }
  });

  it("never skips text a pattern would match: the quick test admits every sample and every match", () => {
    for (const sample of samples) {
      const matched = secretPatterns.some((pattern) =>
        new RegExp(pattern.source, pattern.flags).test(sample),
      );
      expect(matched, sample).toBe(true);
      expect(mayHoldSecret.test(sample), sample).toBe(true);
      expect(mayHoldSecret.test(sample.toLowerCase()), sample).toBe(true);
    }
  });

  it("leaves ordinary text as it is", () => {
    const data = { path: "/home/user/project/src/module-1/file-1.ts", tool: "read_text_file", head: 200 };
    expect(redact(data)).toEqual(data);
  });
});
