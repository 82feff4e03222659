import { RE2JS } from "re2js";

/** What identifies Warden's processes to the commands that stop processes. */
export interface WardenProcesses {
  pids: ReadonlySet<number>;
  /** Process names (`comm`, as `killall` and plain `pkill` see them), e.g. `node`, `warden`. */
  names: readonly string[];
  /** Full command lines (as `pkill -f` sees them). */
  commandLines: readonly string[];
}

const signalPrograms = new Set(["kill", "pkill", "killall", "skill", "tkill"]);
const serviceManagers = new Set([
  "systemctl",
  "service",
  "launchctl",
  "supervisorctl",
  "docker",
  "podman",
  "pm2",
]);
const stoppingActions = new Set([
  "stop",
  "kill",
  "restart",
  "disable",
  "mask",
  "rm",
  "unload",
  "bootout",
  "remove",
  "delete",
]);
// pkill/pgrep options that take a value: the value is not the pattern.
const pkillValueOptions = new Set([
  "-d",
  "-g",
  "-G",
  "-P",
  "-s",
  "-t",
  "-u",
  "-U",
  "-F",
  "--signal",
  "--ns",
  "--nslist",
]);
const commandSeparators = /[;&|\n()`]|\$\(/;
const wordSeparators = /[\s"']+/;
const mentionsWarden = /warden/i;
const mentionsKill = /kill/i;

/**
 * Whether a string is (or contains) a command that would stop one of Warden's processes.
 * Reads shell-like text: `kill 4242`, `kill -9 -1`, `pkill -f warden`, `killall node` (when
 * Warden runs as `node`), `kill $(pgrep warden)`, `systemctl stop warden`. Patterns are
 * matched the way the tool would match them (pkill patterns with RE2, so a hostile pattern
 * cannot stall the decision), which keeps `pkill -f vite` allowed.
 */
export function stopsWardenProcess(text: string, processes: WardenProcesses): boolean {
  if (mentionsKill.test(text) && mentionsPid(text, processes.pids)) return true;
  for (const segment of text.split(commandSeparators)) {
    const words = segment.split(wordSeparators).filter((word) => word.length > 0);
    const programIndex = words.findIndex((word) => {
      const program = basename(word);
      return signalPrograms.has(program) || serviceManagers.has(program);
    });
    if (programIndex < 0) continue;
    const program = basename(words[programIndex] as string);
    const programArguments = words.slice(programIndex + 1);
    if (serviceManagers.has(program)) {
      if (programArguments.some((word) => stoppingActions.has(word)) && mentionsWarden.test(segment))
        return true;
      continue;
    }
    // `kill $(pgrep warden)`, `pgrep warden | xargs kill`: the target is computed elsewhere in the text.
    if (mentionsWarden.test(text)) return true;
    if (program === "pkill" && pkillMatches(programArguments, processes)) return true;
    if (program === "killall" && killallMatches(programArguments, processes)) return true;
    if (program === "kill" && killTargetsAll(programArguments)) return true;
  }
  return false;
}

/** A tool whose name says it signals processes, given a Warden pid or name as an argument. */
export function isProcessStoppingTool(toolName: string): boolean {
  return /kill|terminate|signal|stop_process|end_process/i.test(toolName);
}

export function mentionsPid(text: string, pids: ReadonlySet<number>): boolean {
  for (const match of text.matchAll(/\d+/g)) {
    if (pids.has(Number(match[0]))) return true;
  }
  return false;
}

function killTargetsAll(programArguments: string[]): boolean {
  // `kill -9 -1` signals every process the user may signal, Warden's included. A leading
  // `-1` alone is a signal number (`kill -1 123` is SIGHUP to 123).
  return programArguments.slice(1).includes("-1");
}

function pkillMatches(programArguments: string[], processes: WardenProcesses): boolean {
  let fullCommandLine = false;
  let ignoreCase = false;
  let pattern: string | undefined;
  for (let index = 0; index < programArguments.length; index++) {
    const word = programArguments[index] as string;
    if (pkillValueOptions.has(word)) {
      index++;
    } else if (word === "--full") {
      fullCommandLine = true;
    } else if (word === "--ignore-case") {
      ignoreCase = true;
    } else if (word.startsWith("-") && !word.startsWith("--")) {
      if (/^-[a-zA-Z]+$/.test(word)) {
        fullCommandLine ||= word.includes("f");
        ignoreCase ||= word.includes("i");
      }
    } else if (!word.startsWith("--") && pattern === undefined) {
      pattern = word;
    }
  }
  if (pattern === undefined) return false;
  let expression: RE2JS;
  try {
    expression = RE2JS.compile(pattern, ignoreCase ? RE2JS.CASE_INSENSITIVE : 0);
  } catch {
    // pkill would reject the pattern too.
    return false;
  }
  const subjects = fullCommandLine ? [...processes.commandLines, ...processes.names] : processes.names;
  return subjects.some((subject) => expression.matcher(subject).find());
}

function killallMatches(programArguments: string[], processes: WardenProcesses): boolean {
  const names = programArguments.filter((word) => !word.startsWith("-"));
  return names.some((name) => processes.names.includes(name) || processes.names.includes(basename(name)));
}

function basename(word: string): string {
  const slash = word.lastIndexOf("/");
  return slash < 0 ? word : word.slice(slash + 1);
}
