import { spawn } from "node:child_process";

/** Command output goes to stdout; everything else (progress, logs) to stderr. */
export function printLine(text = ""): void {
  process.stdout.write(`${text}\n`);
}

export function printJsonLine(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

export function printError(text: string): void {
  process.stderr.write(`warden: ${text}\n`);
}

/** Prints long output through $PAGER (default `less -FRX`) when stdout is a terminal. */
export async function printPaged(lines: string[]): Promise<void> {
  const rows = process.stdout.rows ?? 24;
  if (!process.stdout.isTTY || lines.length < rows - 1 || process.env.WARDEN_NO_PAGER) {
    for (const line of lines) printLine(line);
    return;
  }
  const pager = process.env.PAGER || "less -FRX";
  await new Promise<void>((resolve) => {
    const child = spawn(pager, { shell: true, stdio: ["pipe", "inherit", "inherit"] });
    child.on("error", () => {
      for (const line of lines) printLine(line);
      resolve();
    });
    child.on("close", () => resolve());
    child.stdin.on("error", () => {});
    child.stdin.end(`${lines.join("\n")}\n`);
  });
}
