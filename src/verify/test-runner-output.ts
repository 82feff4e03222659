/** What a recognised test runner's summary says: counts, when it prints them. */
export interface TestSummary {
  runner: "vitest" | "jest" | "node:test" | "pytest" | "go test" | "cargo test";
  passed: number;
  failed: number;
}

const runnerCommands: [TestSummary["runner"], RegExp][] = [
  ["vitest", /^(?:npx\s+|pnpm\s+(?:exec\s+)?|yarn\s+|bunx\s+)?vitest(?:\s|$)/],
  ["jest", /^(?:npx\s+|pnpm\s+(?:exec\s+)?|yarn\s+|bunx\s+)?jest(?:\s|$)/],
  ["node:test", /^node\s+(?:[^|;&]*\s)?--test(?:\s|=|$)/],
  ["pytest", /^(?:python3?\s+-m\s+)?pytest(?:\s|$)|^(?:uv|poetry)\s+run\s+pytest(?:\s|$)/],
  ["go test", /^go\s+test(?:\s|$)/],
  ["cargo test", /^cargo\s+(?:test|nextest\s+run)(?:\s|$)/],
];
/** Package-manager scripts that run the project's test runner. */
const testScripts =
  /^(?:npm|pnpm|yarn|bun)\s+(?:run\s+)?test(?::[\w-]+)?(?:\s|$)|^make\s+(?:test|check)(?:\s|$)/;
/** Shell operators after which the exit code is no longer the runner's, and output may be anyone's. */
const shellOperators = /[;|&`$<>]|\(\)/;

/**
 * Whether a command is a test run Warden recognises: a known runner (or the project's test
 * script) invoked on its own — no pipes, `;`, `&&`, `||`, redirections or substitutions that
 * could replace its exit code or print a summary of their own (`vitest run || true`,
 * `echo "10 passed"`). Leading `VAR=value` assignments and `cd dir &&`-free forms only.
 */
export function recognisedTestCommand(command: string): TestSummary["runner"] | "script" | null {
  let text = command.trim();
  while (/^[A-Za-z_][A-Za-z0-9_]*=\S*\s+/.test(text))
    text = text.replace(/^[A-Za-z_][A-Za-z0-9_]*=\S*\s+/, "");
  if (shellOperators.test(text)) return null;
  for (const [runner, pattern] of runnerCommands) if (pattern.test(text)) return runner;
  return testScripts.test(text) ? "script" : null;
}

const ansiColour = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");
const stripAnsi = (text: string) => text.replace(ansiColour, "");

/** The summary line of the runners' output (the last one, if several). */
export function parseTestOutput(output: string): TestSummary | null {
  const text = stripAnsi(output);
  const last = <T>(matches: T[]) => matches.at(-1) ?? null;
  // vitest: "Tests  3 failed | 12 passed (15)"
  const vitest = last([
    ...text.matchAll(/^\s*Tests\s+(?:(\d+)\s+failed\s*\|\s*)?(?:(\d+)\s+passed)?[^\n]*\((\d+)\)/gm),
  ]);
  if (vitest) return { runner: "vitest", failed: Number(vitest[1] ?? 0), passed: Number(vitest[2] ?? 0) };
  // jest: "Tests:       1 failed, 2 passed, 3 total"
  const jest = last([
    ...text.matchAll(
      /^Tests:\s+(?:(\d+)\s+failed,\s+)?(?:\d+\s+skipped,\s+)?(?:(\d+)\s+passed,\s+)?\d+\s+total/gm,
    ),
  ]);
  if (jest) return { runner: "jest", failed: Number(jest[1] ?? 0), passed: Number(jest[2] ?? 0) };
  // node:test (TAP or spec reporter): "# pass 5" / "# fail 0", "ℹ pass 5"
  const nodePass = last([...text.matchAll(/^(?:#|ℹ)\s+pass\s+(\d+)/gm)]);
  const nodeFail = last([...text.matchAll(/^(?:#|ℹ)\s+fail\s+(\d+)/gm)]);
  if (nodePass && nodeFail)
    return { runner: "node:test", passed: Number(nodePass[1]), failed: Number(nodeFail[1]) };
  // cargo: "test result: ok. 5 passed; 0 failed; 0 ignored"
  const cargo = [...text.matchAll(/^test result: \w+\. (\d+) passed; (\d+) failed/gm)];
  if (cargo.length > 0) {
    return {
      runner: "cargo test",
      passed: cargo.reduce((sum, match) => sum + Number(match[1]), 0),
      failed: cargo.reduce((sum, match) => sum + Number(match[2]), 0),
    };
  }
  // pytest: "==== 1 failed, 3 passed in 0.12s ====" (either order, other counts around)
  const pytest = last([
    ...text.matchAll(/^=+ (.*\b(?:passed|failed|error|errors)\b.*) in [\d.]+s(?: \([^)]*\))? =+$/gm),
  ]);
  if (pytest) {
    const count = (word: string) => Number(new RegExp(`(\\d+) ${word}`).exec(pytest[1]!)?.[1] ?? 0);
    return { runner: "pytest", passed: count("passed"), failed: count("failed") + count("errors?") };
  }
  // go test: "ok  \tpkg\t0.01s", "FAIL\tpkg\t0.02s", "--- FAIL: TestX"
  const goOk = [...text.matchAll(/^ok\s+\S+\s+(?:[\d.]+s|\(cached\))/gm)].length;
  const goFail = [...text.matchAll(/^(?:FAIL\s+\S+\s+[\d.]+s|--- FAIL: )/gm)].length;
  if (goOk + goFail > 0) return { runner: "go test", passed: goOk, failed: goFail };
  return null;
}

/** Build commands: a compiler or the project's build script, on its own (as for tests). */
export function recognisedBuildCommand(command: string): boolean {
  let text = command.trim();
  while (/^[A-Za-z_][A-Za-z0-9_]*=\S*\s+/.test(text))
    text = text.replace(/^[A-Za-z_][A-Za-z0-9_]*=\S*\s+/, "");
  if (shellOperators.test(text)) return false;
  return /^(?:(?:npm|pnpm|yarn|bun)\s+(?:run\s+)?(?:build|compile|typecheck)(?::[\w-]+)?|(?:npx\s+)?tsc|make|cargo\s+build|go\s+build|go\s+vet|mvn\s+(?:package|compile|install)|gradle\w*\s+build|\.\/gradlew\s+build|(?:npx\s+)?vite\s+build|(?:npx\s+)?webpack|dotnet\s+build)(?:\s|$)/.test(
    text,
  );
}

/** Deploy commands (on their own). */
export function recognisedDeployCommand(command: string): boolean {
  const text = command.trim();
  if (shellOperators.test(text)) return false;
  return /^(?:(?:npm|pnpm|yarn)\s+run\s+deploy|kubectl\s+(?:apply|rollout)|helm\s+(?:upgrade|install)|terraform\s+apply|fly(?:ctl)?\s+deploy|vercel\s+(?:deploy|--prod)|netlify\s+deploy|gcloud\s+\S*\s*deploy|aws\s+\S+\s+deploy|\S*deploy\S*)(?:\s|$)/.test(
    text,
  );
}
