import http from "node:http";
import https from "node:https";

/** What a request to Warden answered; `status` 0 when it could not be reached. */
export interface JsonAnswer {
  status: number;
  body: unknown;
}

/**
 * POSTs JSON with keep-alive connections (node:http rather than fetch: a guarded tool call is
 * on the agent's critical path). Never rejects: transport failures answer status 0.
 */
export function postJson(
  url: URL,
  headers: Record<string, string>,
  body: unknown,
  agents: { http: http.Agent; https: https.Agent },
  timeoutMs: number | undefined,
): Promise<JsonAnswer> {
  const text = JSON.stringify(body);
  const client = url.protocol === "https:" ? https : http;
  return new Promise((resolve) => {
    const request = client.request(
      url,
      {
        method: "POST",
        agent: url.protocol === "https:" ? agents.https : agents.http,
        headers: {
          ...headers,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(text),
        },
        ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", () => resolve({ status: 0, body: null }));
        response.on("end", () => {
          const received = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = received;
          try {
            parsed = JSON.parse(received);
          } catch {
            // Not JSON: the caller reports the status with the text.
          }
          resolve({ status: response.statusCode ?? 0, body: parsed });
        });
      },
    );
    request.on("timeout", () => request.destroy(new Error("timed out")));
    request.on("error", () => resolve({ status: 0, body: null }));
    request.end(text);
  });
}
