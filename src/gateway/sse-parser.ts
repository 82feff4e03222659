/** One server-sent event: its `event:` name (if any), its joined `data:` lines, and its exact text. */
export interface SseEvent {
  event: string | undefined;
  data: string;
  /** The frame as received, ending in a blank line, so unchanged events are forwarded byte for byte. */
  raw: string;
}

/**
 * An incremental server-sent events parser (WHATWG HTML §9.2.6, "Interpreting an event stream"):
 * lines end in CRLF, LF or CR; a blank line dispatches; `:` lines are comments; several `data:`
 * lines join with LF. `id:` and `retry:` are kept in `raw` only.
 */
export class SseParser {
  #buffer = "";
  #decoder = new TextDecoder("utf-8");

  push(chunk: Uint8Array): SseEvent[] {
    this.#buffer += this.#decoder.decode(chunk, { stream: true });
    return this.#take(false);
  }

  /** Characters held for an event not yet complete (bounds what a never-ending event can cost). */
  get pendingLength(): number {
    return this.#buffer.length;
  }

  /** Whatever is left when the stream ends; a final event without its blank line still counts. */
  end(): SseEvent[] {
    this.#buffer += this.#decoder.decode();
    return this.#take(true);
  }

  #take(final: boolean): SseEvent[] {
    const events: SseEvent[] = [];
    let start = 0;
    let frameStart = 0;
    let event: string | undefined;
    const data: string[] = [];
    let sawField = false;
    const buffer = this.#buffer;
    while (start < buffer.length) {
      let end = start;
      while (end < buffer.length && buffer[end] !== "\n" && buffer[end] !== "\r") end++;
      if (end === buffer.length && !final) break;
      // A CR at the end of the buffer may be the first half of a CRLF still in flight.
      if (buffer[end] === "\r" && end + 1 === buffer.length && !final) break;
      const line = buffer.slice(start, end);
      let next = end;
      if (buffer[next] === "\r" && buffer[next + 1] === "\n") next += 2;
      else if (next < buffer.length) next += 1;
      start = next;
      if (line === "") {
        // An event with no data lines (e.g. a keep-alive comment) is not dispatched (§9.2.6).
        if (sawField && data.length > 0)
          events.push({ event, data: data.join("\n"), raw: buffer.slice(frameStart, start) });
        event = undefined;
        data.length = 0;
        sawField = false;
        frameStart = start;
        continue;
      }
      sawField = true;
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (final && sawField && data.length > 0) {
      events.push({ event, data: data.join("\n"), raw: `${buffer.slice(frameStart)}\n\n` });
      frameStart = buffer.length;
    }
    this.#buffer = buffer.slice(frameStart);
    return events;
  }
}

/** `event: …` (optional) and `data: …` lines, then the blank line that dispatches them. */
export function sseFrame(event: string | undefined, data: unknown): string {
  const json = JSON.stringify(data);
  return event === undefined ? `data: ${json}\n\n` : `event: ${event}\ndata: ${json}\n\n`;
}
