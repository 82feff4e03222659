import OpenAI from "openai";

/** A model the auditor asks (any OpenAI-compatible upstream). */
export interface AuditModel {
  readonly name: string;
  complete(system: string, user: string): Promise<string>;
}

export interface OpenAiAuditModelOptions {
  baseURL: string;
  apiKey: string;
  model: string;
  /** Sampling temperature; samples differ only if it is above 0 (default 0.7). */
  temperature?: number;
  timeoutMilliseconds?: number;
}

/** An auditor model over the official openai client (Chat Completions). */
export function openAiAuditModel(options: OpenAiAuditModelOptions): AuditModel {
  const client = new OpenAI({
    baseURL: options.baseURL,
    apiKey: options.apiKey,
    timeout: options.timeoutMilliseconds ?? 60_000,
    maxRetries: 1,
  });
  return {
    name: options.model,
    async complete(system, user) {
      const completion = await client.chat.completions.create({
        model: options.model,
        temperature: options.temperature ?? 0.7,
        messages: [
          { role: "system", content: system },
          { role: "user", content: user },
        ],
      });
      return completion.choices[0]?.message.content ?? "";
    },
  };
}
