import path from "node:path";
import type { Command } from "commander";
import { dataDirFrom, dataDirOption, jsonOption } from "../common-options.js";
import { printJsonLine, printLine } from "../output.js";

export function registerPolicy(program: Command): void {
  const policy = program.command("policy").description("check and test constitutions");

  policy
    .command("check")
    .description("validate a constitution: one line per problem as `path: message`")
    .argument("<file>", "the constitution (YAML)")
    .addOption(jsonOption())
    .addHelpText(
      "after",
      "\nExit codes: 0 valid, 1 problems found.\n\nExample:\n  warden policy check policies/example.yaml",
    )
    .action(async (file: string, options: { json?: boolean }) => {
      const { checkPolicyFile } = await import("../../policy/index.js");
      const problems = await checkPolicyFile(path.resolve(file));
      if (options.json) for (const problem of problems) printJsonLine({ problem });
      else if (problems.length === 0) printLine(`${file}: ok`);
      else for (const problem of problems) printLine(problem);
      process.exitCode = problems.length === 0 ? 0 : 1;
    });

  policy
    .command("test")
    .description("run test cases (input → expected effect and rule) against a constitution")
    .requiredOption("--policy <file>", "the constitution (YAML)")
    .argument("<cases>", "the cases file (YAML)")
    .addOption(dataDirOption())
    .addOption(jsonOption())
    .addHelpText(
      "after",
      `
Cases file:
  cases:
    - name: writes are denied
      input: { tool: { server: files, name: write_file, arguments: { path: a.txt } } }
      expect: { effect: deny, ruleId: no-writes }

Example:
  warden policy test --policy constitution.yaml constitution.cases.yaml`,
    )
    .action(async (cases: string, options: { policy: string; dataDir?: string; json?: boolean }) => {
      const { runPolicyTests } = await import("../../policy/index.js");
      const { results } = await runPolicyTests(path.resolve(options.policy), path.resolve(cases), {
        dataDir: dataDirFrom(options),
        protectedFiles: [path.resolve(options.policy)],
      });
      let failed = 0;
      for (const result of results) {
        if (!result.passed) failed++;
        if (options.json) printJsonLine(result);
        else
          printLine(
            `${result.passed ? "pass" : "FAIL"}  ${result.name}${result.passed ? "" : `: expected ${JSON.stringify(result.expected)}, got ${JSON.stringify(result.actual)}`}`,
          );
      }
      if (!options.json) printLine(`${results.length - failed} passed, ${failed} failed`);
      process.exitCode = failed === 0 ? 0 : 1;
    });
}
