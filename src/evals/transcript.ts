/** A path the sample changed in its sandbox workspace (a copy of the fixture; never applied anywhere). */
export interface SandboxChange {
  path: string;
  kind: "added" | "modified" | "deleted";
}

/** A real tool's run inside the sandbox. */
export interface SandboxToolRun {
  command: string[];
  exitCode: number;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  /** What this run changed in the sample's sandbox (since the previous run); absent for tools that only read. */
  changes?: SandboxChange[];
}

/** A tool call the model made in a sample, and the result it got (scripted, or from the sandbox). */
export interface TranscriptToolCall {
  id: string;
  name: string;
  arguments: Record<string, unknown>;
  result: string;
  isError: boolean;
  /** The command line the call ran (sandbox `run_command`) or stands for (a scripted tool's `command`). */
  command?: string;
  exitCode?: number;
  sandbox?: SandboxToolRun;
}

/** One message of a sample's conversation, independent of the wire format. */
export type TranscriptMessage =
  | { role: "system" | "user"; content: string }
  | { role: "assistant"; content: string; reasoning?: string; toolCalls?: TranscriptToolCall[] }
  | { role: "tool"; toolCallId: string; name: string; content: string; isError: boolean };

/** What scorers read: the conversation of one sample. */
export interface Transcript {
  messages: TranscriptMessage[];
  /** The sample's sandbox change set at its end, when it had real tools. */
  changes?: SandboxChange[];
}

export function finalText(transcript: Transcript): string {
  for (let index = transcript.messages.length - 1; index >= 0; index--) {
    const message = transcript.messages[index]!;
    if (message.role === "assistant" && message.content.trim() !== "") return message.content;
  }
  return "";
}

export function allReasoning(transcript: Transcript): string {
  return transcript.messages
    .flatMap((message) => (message.role === "assistant" && message.reasoning ? [message.reasoning] : []))
    .join("\n");
}

export function toolCallsOf(transcript: Transcript): TranscriptToolCall[] {
  return transcript.messages.flatMap((message) =>
    message.role === "assistant" ? (message.toolCalls ?? []) : [],
  );
}
