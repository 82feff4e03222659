import type { StoredEvent } from "../core/events.js";
import type { Logger } from "../core/logger.js";

export interface WebhookTarget {
  url: string;
  /** `json`: `{type, event}`; `slack`: `{text}`, what Slack incoming webhooks accept. */
  format: "json" | "slack";
  /** Event types sent; default approval-request, kill-switch and finding. */
  events?: string[] | undefined;
}

export const defaultWebhookEvents = ["approval-request", "kill-switch", "finding"];

/**
 * Sends selected events to webhooks, off the request path: a delivery is retried with
 * exponential back-off (`retryDelaysMs`) and then given up and logged. Nothing here can
 * release, deny or delay a held call; a failed webhook only means nobody was notified.
 */
export class WebhookNotifier {
  readonly #targets: WebhookTarget[];
  readonly #logger: Logger;
  readonly #retryDelaysMs: number[];
  readonly #timeoutMs: number;
  readonly #dashboardUrl: string | null;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #closing = new AbortController();

  constructor(options: {
    targets: WebhookTarget[];
    logger: Logger;
    retryDelaysMs?: number[];
    timeoutMs?: number;
    dashboardUrl?: string | null;
  }) {
    this.#targets = options.targets;
    this.#logger = options.logger;
    this.#retryDelaysMs = options.retryDelaysMs ?? [500, 2000, 8000, 30_000];
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#dashboardUrl = options.dashboardUrl ?? null;
  }

  notify(events: StoredEvent[]): void {
    if (this.#closing.signal.aborted) return;
    for (const event of events) {
      for (const target of this.#targets) {
        if (!(target.events ?? defaultWebhookEvents).includes(event.type)) continue;
        const delivery = this.#deliver(target, event).finally(() => this.#inFlight.delete(delivery));
        this.#inFlight.add(delivery);
      }
    }
  }

  /** Resolves when every delivery so far has succeeded or been given up. */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Stops retrying (a back-off wait ends at once); resolves when deliveries in flight have ended. */
  async close(): Promise<void> {
    this.#closing.abort();
    await this.idle();
  }

  async #deliver(target: WebhookTarget, event: StoredEvent): Promise<void> {
    const body = JSON.stringify(
      target.format === "slack"
        ? slackPayload(event, this.#dashboardUrl)
        : jsonPayload(event, this.#dashboardUrl),
    );
    for (let attempt = 0; ; attempt += 1) {
      let problem: string;
      try {
        const response = await fetch(target.url, {
          method: "POST",
          headers: { "content-type": "application/json", "user-agent": "warden-webhook/1" },
          body,
          signal: AbortSignal.any([AbortSignal.timeout(this.#timeoutMs), this.#closing.signal]),
          redirect: "error",
        });
        await response.arrayBuffer().catch(() => undefined);
        if (response.ok) return;
        problem = `HTTP ${response.status}`;
      } catch (error) {
        problem = (error as Error).message;
      }
      const delay = this.#retryDelaysMs[attempt];
      if (delay === undefined || this.#closing.signal.aborted) {
        this.#logger.warn(
          { url: target.url, eventSeq: event.seq, attempts: attempt + 1, problem },
          "webhook delivery failed; giving up",
        );
        return;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.#closing.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

function jsonPayload(event: StoredEvent, dashboardUrl: string | null) {
  return { type: `warden.${event.type}`, summary: summaryOf(event), dashboardUrl, event };
}

function slackPayload(event: StoredEvent, dashboardUrl: string | null) {
  const link = dashboardUrl ? ` <${dashboardUrl}|Open the dashboard>` : "";
  return { text: `${summaryOf(event)}${link}` };
}

/** One line for people; agent-written text is cut short and never interpreted. */
function summaryOf(event: StoredEvent): string {
  const data = event.data as Record<string, unknown>;
  const clip = (value: unknown) => String(value).replace(/[<>&]/g, "").slice(0, 200);
  if (event.type === "approval-request")
    return `Warden: ${clip(event.agentId)} waits for approval of ${clip(data.server)}/${clip(data.tool)} (rule ${clip(data.ruleId)}), expires ${clip(data.expiresAt)}.`;
  if (event.type === "kill-switch")
    return `Warden: kill switch ${data.engaged ? "engaged" : "released"} by ${clip(data.by)} (${clip(data.scope ?? "all")}${data.target ? ` ${clip(data.target)}` : ""})${data.reason ? `: ${clip(data.reason)}` : ""}.`;
  if (event.type === "finding")
    return `Warden finding (${clip(data.severity)}, ${clip(data.detector)}) for ${clip(event.agentId)}: ${clip(data.explanation)}`;
  return `Warden: ${event.type} from ${clip(event.agentId)}`;
}
