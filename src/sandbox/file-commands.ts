/** The largest file one command writes: its content travels as one argument (the kernel caps one at 128 KiB). */
export const maximumWriteBytes = 100 * 1024;

/** The command that writes `content` to `path` (creating its directories) inside the sandbox. */
export function writeFileCommand(path: string, content: string): string[] {
  return [
    "sh",
    "-c",
    'mkdir -p -- "$(dirname -- "$2")" && printf %s "$1" > "$2"',
    "write_file",
    content,
    path,
  ];
}
