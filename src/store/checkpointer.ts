import { sign } from "node:crypto";
import { appendFile } from "node:fs/promises";
import type { EventStore } from "../core/event-store.js";
import { checkpointMessage } from "../core/hash-chain.js";
import { newSpanId, newTraceId } from "../core/ids.js";
import type { Logger } from "../core/logger.js";
import type { SigningKeys } from "./signing-keys.js";

export interface CheckpointerOptions {
  store: EventStore;
  keys: SigningKeys;
  logger: Logger;
  /** Checkpoint after this many events since the last one. */
  everyEvents?: number;
  /** ...or after this many milliseconds if anything was appended. */
  everyMilliseconds?: number;
  /** A file outside the data directory, or an http(s) URL, that receives every checkpoint head. */
  witness?: string;
}

export interface WitnessEntry {
  seq: number;
  hash: string;
  keyId: string;
  signature: string;
  time: string;
}

/**
 * Appends signed checkpoint events that commit to the head of the chain, and sends each head
 * to an external witness so truncation or rollback after the last local checkpoint shows.
 */
export class Checkpointer {
  readonly #options: Required<Omit<CheckpointerOptions, "witness">> & { witness: string | undefined };
  #lastCheckpointedSeq = 0;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;

  constructor(options: CheckpointerOptions) {
    this.#options = {
      everyEvents: 1000,
      everyMilliseconds: 5000,
      ...options,
      witness: options.witness,
    };
  }

  start(): void {
    this.#timer = setInterval(() => void this.checkpoint(), this.#options.everyMilliseconds);
    this.#timer.unref();
  }

  /** Call after appends; checkpoints when enough events have accumulated. */
  noteAppended(seq: number): void {
    if (seq - this.#lastCheckpointedSeq >= this.#options.everyEvents) void this.checkpoint();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#running;
    await this.checkpoint();
  }

  checkpoint(): Promise<void> {
    this.#running ??= this.#checkpointNow().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #checkpointNow(): Promise<void> {
    const { store, keys, logger } = this.#options;
    const head = await store.head();
    if (!head || head.seq <= this.#lastCheckpointedSeq) return;
    const signature = sign(null, checkpointMessage(head.seq, head.hash), keys.privateKey).toString("base64");
    // Replicas' stores know the other chains: each checkpoint records their heads, so every
    // chain vouches for the others and a rewrite of one is visible from the rest.
    const chainHeads =
      "chainHeads" in store && typeof store.chainHeads === "function"
        ? await (
            store as { chainHeads(): Promise<{ chain: string; seq: number; hash: string }[]>; chain?: string }
          )
            .chainHeads()
            .then((heads) => heads.filter((other) => other.chain !== (store as { chain?: string }).chain))
            .catch(() => undefined)
        : undefined;
    // The checkpoint is itself an event; its seq is head.seq + 1 only if nothing raced it,
    // so we remember the checkpoint's own seq as the last checkpointed one.
    const event = await store.append({
      type: "checkpoint",
      agentId: "warden",
      sessionId: "warden",
      traceId: newTraceId(),
      spanId: newSpanId(),
      data: {
        headSeq: head.seq,
        headHash: head.hash,
        keyId: keys.keyId,
        signature,
        ...(chainHeads === undefined || chainHeads.length === 0 ? {} : { chainHeads }),
      },
    });
    this.#lastCheckpointedSeq = event.seq;
    if (this.#options.witness) {
      const entry: WitnessEntry = {
        seq: head.seq,
        hash: head.hash,
        keyId: keys.keyId,
        signature,
        time: event.time,
      };
      await sendToWitness(this.#options.witness, entry).catch((error: Error) =>
        logger.warn(
          { witness: this.#options.witness, error: error.message },
          "witness did not take the checkpoint",
        ),
      );
    }
  }
}

async function sendToWitness(witness: string, entry: WitnessEntry): Promise<void> {
  if (/^https?:\/\//.test(witness)) {
    // Off the request path, once per checkpoint: fetch is fine here.
    const response = await fetch(witness, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(entry),
    });
    if (!response.ok) throw new Error(`witness answered ${response.status}`);
    return;
  }
  await appendFile(witness, `${JSON.stringify(entry)}\n`, { mode: 0o644 });
}
