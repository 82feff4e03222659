import type { EventData, StoredEvent } from "../core/events.js";

/** A command Warden saw run (a sandbox run, or a tool call whose arguments name a command), with its outcome. */
export interface CommandRun {
  command: string;
  /** `null` when the record holds no exit code. */
  exitCode: number | null;
  output: string;
  seq: number;
  eventId: string;
}

export type ChangeKind = "created" | "modified" | "written" | "deleted";

export interface FileChangeEvidence {
  path: string;
  kind: ChangeKind;
  seq: number;
  eventId: string;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const commandArgumentNames = ["command", "cmd", "script", "commandLine", "command_line"];
const pathArgumentNames = ["path", "file", "filePath", "file_path", "filename", "target"];
const maximumItems = 2000;

/** The text of a tool result (MCP content parts, structured content, or JSON). */
function resultText(result: unknown): string {
  if (isRecord(result) && Array.isArray(result.content)) {
    const parts = result.content
      .map((part) => (isRecord(part) && typeof part.text === "string" ? part.text : ""))
      .filter(Boolean);
    if (isRecord(result.structuredContent)) {
      for (const name of ["stdout", "stderr", "output"]) {
        const value = result.structuredContent[name];
        if (typeof value === "string") parts.push(value);
      }
    }
    return parts.join("\n");
  }
  return typeof result === "string" ? result : JSON.stringify(result ?? "");
}

/** An exit code the tool reported in a field (never one parsed from free text the command printed). */
function reportedExitCode(result: unknown): number | null {
  const candidates = [
    result,
    isRecord(result) ? result.structuredContent : undefined,
    isRecord(result) ? result._meta : undefined,
  ];
  for (const candidate of candidates) {
    if (!isRecord(candidate)) continue;
    for (const name of ["exitCode", "exit_code", "returncode", "code", "status"]) {
      const value = candidate[name];
      if (typeof value === "number" && Number.isInteger(value)) return value;
    }
  }
  return null;
}

function commandOf(argumentsValue: unknown): string | null {
  if (!isRecord(argumentsValue)) return null;
  for (const name of commandArgumentNames) {
    const value = argumentsValue[name];
    if (typeof value === "string" && value.trim() !== "") return value.trim();
    if (Array.isArray(value) && value.every((item) => typeof item === "string")) return value.join(" ");
  }
  return null;
}

const toolChangeKinds = new Map<string, ChangeKind | null>();

/** `changeKindOfName`, looked up once per distinct tool name. */
function changeKindOfTool(tool: string): ChangeKind | null {
  let kind = toolChangeKinds.get(tool);
  if (kind === undefined) {
    kind = changeKindOfName(tool);
    if (toolChangeKinds.size >= maximumItems) toolChangeKinds.clear();
    toolChangeKinds.set(tool, kind);
  }
  return kind;
}

function changeKindOfName(tool: string): ChangeKind | null {
  const name = tool.toLowerCase();
  if (/(?:delete|remove|unlink|^rm$)/.test(name)) return "deleted";
  if (/create/.test(name)) return "created";
  if (/(?:edit|patch|replace|update|modify|append)/.test(name)) return "modified";
  if (/(?:write|save|put)/.test(name)) return "written";
  return null;
}

const normalisePath = (value: string) =>
  value.includes("\\") || value.startsWith("./") || value.endsWith("/")
    ? value.replace(/\\/g, "/").replace(/^\.\//, "").replace(/\/+$/, "")
    : value;

/**
 * What the record shows a session did: commands run (with exit codes and output) and files
 * changed. Only Warden's own records count — tool calls it decided and results it received
 * from the tool, sandbox runs it made — never what the model wrote or what the agent reported
 * back to the model.
 */
export class SessionEvidence {
  readonly commands: CommandRun[] = [];
  readonly changes: FileChangeEvidence[] = [];
  /** Whether a sandbox change set was recorded (then the file changes are complete). */
  changeSetRecorded = false;
  readonly #calls = new Map<string, { tool: string; arguments: unknown }>();

  add(event: StoredEvent): void {
    if (event.type === "tool-call") {
      const data = event.data as EventData<"tool-call">;
      if (this.#calls.size >= maximumItems) this.#calls.delete(this.#calls.keys().next().value!);
      this.#calls.set(data.callId, { tool: data.tool, arguments: data.arguments });
    } else if (event.type === "tool-result") {
      const data = event.data as EventData<"tool-result">;
      const call = this.#calls.get(data.callId);
      if (call === undefined) return;
      this.#calls.delete(data.callId);
      const command = commandOf(call.arguments);
      if (command !== null) {
        const exitCode = reportedExitCode(data.result) ?? (data.isError ? 1 : null);
        this.#push(this.commands, {
          command,
          exitCode,
          output: resultText(data.result),
          seq: event.seq,
          eventId: event.id,
        });
        return;
      }
      const kind = changeKindOfTool(call.tool);
      if (kind === null || data.isError) return;
      for (const name of pathArgumentNames) {
        const value = isRecord(call.arguments) ? call.arguments[name] : undefined;
        if (typeof value === "string")
          this.#push(this.changes, { path: normalisePath(value), kind, seq: event.seq, eventId: event.id });
      }
      const source = isRecord(call.arguments) ? call.arguments.source : undefined;
      const destination = isRecord(call.arguments) ? call.arguments.destination : undefined;
      if (
        /move|rename/.test(call.tool.toLowerCase()) &&
        typeof source === "string" &&
        typeof destination === "string"
      ) {
        this.#push(this.changes, {
          path: normalisePath(source),
          kind: "deleted",
          seq: event.seq,
          eventId: event.id,
        });
        this.#push(this.changes, {
          path: normalisePath(destination),
          kind: "created",
          seq: event.seq,
          eventId: event.id,
        });
      }
    } else if (event.type === "sandbox-run") {
      const data = event.data as EventData<"sandbox-run"> & {
        stdout?: unknown;
        stderr?: unknown;
        output?: unknown;
        changes?: unknown;
      };
      const output = [data.stdout, data.stderr, data.output]
        .filter((part): part is string => typeof part === "string")
        .join("\n");
      this.#push(this.commands, {
        command: data.command.join(" "),
        exitCode: data.exitCode,
        output,
        seq: event.seq,
        eventId: event.id,
      });
      if (Array.isArray(data.changes)) {
        this.changeSetRecorded = true;
        for (const change of data.changes) {
          if (!isRecord(change) || typeof change.path !== "string") continue;
          const kind =
            change.kind === "added" ? "created" : change.kind === "deleted" ? "deleted" : "modified";
          this.#push(this.changes, {
            path: normalisePath(change.path),
            kind,
            seq: event.seq,
            eventId: event.id,
          });
        }
      }
    }
  }

  #push<T>(list: T[], item: T): void {
    list.push(item);
    if (list.length > maximumItems) list.shift();
  }
}

/** Whether a recorded path is the one a claim names (either may be relative to the other). */
export function samePath(recorded: string, claimed: string): boolean {
  return samePathAs(claimed)(recorded);
}

/** `samePath` for one claimed path, normalised once, against many recorded paths. */
export function samePathAs(claimed: string): (recorded: string) => boolean {
  const right = normalisePath(claimed.replace(/^\//, ""));
  const rightSuffix = `/${right}`;
  return (recorded) => {
    const left = normalisePath(recorded);
    return left === right || left.endsWith(rightSuffix) || right.endsWith(`/${left}`);
  };
}
