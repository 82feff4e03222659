import { describe, expect, it } from "vitest";
import { formatSeconds, ProgressBar } from "./progress-bar.js";

function fakeStream(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const stream = {
    isTTY,
    text: "",
    write(chunk: string) {
      stream.text += chunk;
      return true;
    },
  };
  return stream as unknown as NodeJS.WriteStream & { text: string };
}

describe("the progress line", () => {
  it("redraws in place on a terminal, with rate and ETA, and ends with a newline", () => {
    const stream = fakeStream(true);
    const bar = new ProgressBar(stream, "eval");
    bar.update(0, 4);
    bar.update(4, 4);
    const clearLine = "\u001b[K";
    const [first, last] = stream.text.split(clearLine);
    expect(first).toMatch(/^\r\[\.{24}\] eval 0\/4 0\.0\/s ETA --$/);
    expect(last).toMatch(/^\r\[#{24}\] eval 4\/4 [\d.]+\/s ETA 0s$/);
    expect(stream.text.endsWith(`${clearLine}\n`)).toBe(true);
  });

  it("prints plain lines at each tenth when stderr is not a terminal", () => {
    const stream = fakeStream(false);
    const bar = new ProgressBar(stream, "eval");
    for (let done = 0; done <= 100; done++) bar.update(done, 100);
    const lines = stream.text.trim().split("\n");
    expect(lines).toHaveLength(11);
    expect(stream.text).not.toContain("\r");
    expect(lines.at(-1)).toMatch(/^eval 100\/100 /);
  });

  it("formats durations", () => {
    expect(formatSeconds(42)).toBe("42s");
    expect(formatSeconds(125)).toBe("2m05s");
    expect(formatSeconds(7300)).toBe("2h01m");
    expect(formatSeconds(Number.POSITIVE_INFINITY)).toBe("--");
  });
});
