import type { Command } from "commander";
import { dataDirOption, jsonOption } from "../common-options.js";

export function registerUsers(program: Command): void {
  const users = program
    .command("users")
    .description("reviewer accounts (people) for the dashboard and the HTTP API");
  users
    .command("add")
    .description(
      "add a reviewer account; its API token is printed once, alone on stdout, and only its hash is kept",
    )
    .argument("<name>", "the reviewer's name, as recorded on their decisions")
    .requiredOption(
      "--role <role>",
      "viewer (reads), reviewer (also decides held calls, halts) or admin (also grants always, resumes)",
    )
    .option(
      "--password-stdin",
      "read a dashboard password (at least 12 characters) from stdin; without it the account has only the token",
    )
    .addOption(dataDirOption())
    .addOption(jsonOption())
    .addHelpText(
      "after",
      '\nExamples:\n  warden users add alice --role admin --password-stdin < alice.pass\n  TOKEN=$(warden users add ci-bot --role reviewer)\n  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:7400/api/approvals',
    )
    .action(
      async (
        name: string,
        options: { role: string; passwordStdin?: boolean; dataDir?: string; json?: boolean },
      ) => {
        const { addUser } = await import("./users-action.js");
        await addUser(name, options);
      },
    );
}
