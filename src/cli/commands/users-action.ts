import { WardenError } from "../../core/errors.js";
import { dataDirFrom } from "../common-options.js";
import { connectAsOperator } from "../daemon-connection.js";
import { printJsonLine, printLine } from "../output.js";

const roles = ["viewer", "reviewer", "admin"];

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

export async function addUser(
  name: string,
  options: { role: string; passwordStdin?: boolean; dataDir?: string; json?: boolean },
): Promise<void> {
  if (!roles.includes(options.role))
    throw new WardenError("usage", `--role must be viewer, reviewer or admin, not "${options.role}"`);
  const password = options.passwordStdin ? await readStdin() : null;
  if (password !== null && password.length < 12)
    throw new WardenError("usage", "the password from stdin must be at least 12 characters");
  const client = await connectAsOperator(dataDirFrom(options));
  try {
    const { token } = await client.call<{ token: string }>("users-add", {
      name,
      role: options.role,
      password,
    });
    if (options.json) printJsonLine({ token });
    else printLine(token);
  } finally {
    client.close();
  }
}
