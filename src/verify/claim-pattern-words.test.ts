import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { readLabelledTexts } from "../detect/labelled-texts.js";
import { claimPatterns, extractClaims } from "./extract-claims.js";

// Each claim pattern skips sentences holding none of its words (a speed-up). These tests fail
// when a pattern gains a way to match that its word list does not cover.

/** At least one sentence for every branch of every pattern. */
const branches = [
  "All 12 tests pass.",
  "The unit tests now pass.",
  "12 of the tests passed.",
  "Tests are passing.",
  "Tests are green.",
  "The test suite is green.",
  "The test suite succeeds.",
  "Passing tests everywhere.",
  "I ran the tests and they all pass.",
  "Ran the integration tests: everything passed.",
  "14 passed, 0 failed",
  "The build succeeded.",
  "The build is green.",
  "It builds cleanly.",
  "The project compiles without errors.",
  "It compiled successfully.",
  "The typecheck passes.",
  "I did not change src/app.ts.",
  "I didn't touch config/prod.yaml.",
  "I haven't modified lib/a.js.",
  "I have not altered src/b.ts.",
  "I left src/index.ts unchanged.",
  "Kept package.json as it was.",
  "I deleted the file tmp/cache.json.",
  "Removed the directory build/out.",
  "I created a new file src/new.ts.",
  "Added test file test/a.test.ts.",
  "Wrote docs/guide.md.",
  "Generated the module src/gen.ts.",
  "I updated src/parser.ts.",
  "Modified the file lib/x.js.",
  "Fixed src/bug.ts.",
  "Refactored src/store/cache.ts.",
  "Rewrote app/main.py.",
  "I ran `npm test`.",
  "Executed `make build`.",
  "I have run `go test ./...`.",
  "Deployed it to production.",
  "Deployed version 4.2.1 to staging.",
  "The deployment succeeded.",
  "The service is now live in production.",
  "Released to production.",
  "The task is complete.",
  "I've completed the task.",
  "Everything is working.",
  "All done.",
  "The fix is in place.",
  "Successfully implemented the feature.",
  "Done.",
];

function corpus(): string[] {
  const data = fileURLToPath(new URL("../../bench/data/", import.meta.url));
  const texts = [...branches];
  for (const detector of readdirSync(data, { withFileTypes: true }).filter((entry) => entry.isDirectory())) {
    for (const file of readdirSync(`${data}${detector.name}`).filter((name) => name.endsWith(".jsonl"))) {
      texts.push(...readLabelledTexts(`${data}${detector.name}/${file}`).map((row) => row.text));
    }
  }
  return texts.flatMap((text) => text.toLowerCase().split(/(?<=[.!?])\s+|\n/));
}

describe("the claim patterns' word lists", () => {
  it("cover every sentence a pattern matches, in the branch examples and the labelled texts", () => {
    const uncovered: string[] = [];
    for (const sentence of corpus()) {
      for (const [kind, pattern, words] of claimPatterns) {
        if (pattern.test(sentence) && !words.some((word) => sentence.includes(word)))
          uncovered.push(`${kind}: ${sentence}`);
      }
    }
    expect(uncovered).toEqual([]);
  });

  it("has an example that extracts a claim for every branch sentence", () => {
    const missed = branches.filter((sentence) => extractClaims(sentence).length === 0);
    expect(missed).toEqual([]);
  });
});
