import { describe, expect, it } from "vitest";
import { SseParser } from "./sse-parser.js";

const bytes = (text: string) => new TextEncoder().encode(text);

describe("SseParser", () => {
  it("reassembles events split across chunks, including inside a CRLF and a multi-byte character", () => {
    const text = 'event: a\r\ndata: {"x":"é"}\r\n\r\ndata: one\ndata: two\n\n';
    const encoded = bytes(text);
    const parser = new SseParser();
    const events = [];
    for (let index = 0; index < encoded.length; index++)
      events.push(...parser.push(encoded.slice(index, index + 1)));
    events.push(...parser.end());
    expect(events.map(({ event, data }) => ({ event, data }))).toEqual([
      { event: "a", data: '{"x":"é"}' },
      { event: undefined, data: "one\ntwo" },
    ]);
    expect(events.map((event) => event.raw).join("")).toBe(text);
  });

  it("skips comments and still delivers a last event that lacks its blank line", () => {
    const parser = new SseParser();
    const events = [...parser.push(bytes(": keep-alive\n\ndata: [DONE]")), ...parser.end()];
    expect(events.map((event) => event.data)).toEqual(["[DONE]"]);
  });
});
