/** A tool call the model made in a sample, and the scripted result it got. */
export interface TranscriptToolCall {
  id: string;
  name: string;
  arguments: Record<string, unknown>;
  result: string;
  isError: boolean;
}

/** One message of a sample's conversation, independent of the wire format. */
export type TranscriptMessage =
  | { role: "system" | "user"; content: string }
  | { role: "assistant"; content: string; reasoning?: string; toolCalls?: TranscriptToolCall[] }
  | { role: "tool"; toolCallId: string; name: string; content: string; isError: boolean };

/** What scorers read: the conversation of one sample. */
export interface Transcript {
  messages: TranscriptMessage[];
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
