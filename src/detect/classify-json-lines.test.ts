import { once } from "node:events";
import { PassThrough, Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { classifyJsonLines } from "./classify-json-lines.js";
import type { TextClassifier } from "./detector.js";
import { refusalClassifier } from "./refusal/refusal-classifier.js";

/** Flags texts containing "bad"; one span per occurrence. */
const keywordClassifier: TextClassifier = {
  name: "keyword",
  description: "test classifier",
  classify: (text) => {
    const start = text.indexOf("bad");
    return start < 0
      ? { flagged: false, score: 0.1, evidence: [] }
      : { flagged: true, score: 0.9, evidence: [{ start, end: start + 3, label: "bad" }] };
  },
};

async function run(input: string, classifier: TextClassifier = keywordClassifier) {
  const source = new PassThrough();
  const output = new PassThrough();
  const chunks: string[] = [];
  output.on("data", (chunk: Buffer) => chunks.push(chunk.toString("utf8")));
  const bad: [number, string][] = [];
  source.end(input);
  const result = await classifyJsonLines({
    classifier,
    input: source,
    output,
    onBadLine: (lineNumber, problem) => bad.push([lineNumber, problem]),
  });
  const lines = chunks.join("").split("\n");
  expect(lines.pop()).toBe("");
  return { result, bad, records: lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe("classifyJsonLines", () => {
  it("adds flagged, score and evidence to each line, keeping its other fields, in order", async () => {
    const { result, records, bad } = await run(
      '{"id":1,"text":"fine"}\n{"id":2,"text":"a bad one","x":[1]}\n',
    );
    expect(result).toEqual({ lines: 2, badLines: 0 });
    expect(bad).toEqual([]);
    expect(records).toEqual([
      { id: 1, text: "fine", flagged: false, score: 0.1, evidence: [] },
      {
        id: 2,
        text: "a bad one",
        x: [1],
        flagged: true,
        score: 0.9,
        evidence: [{ start: 2, end: 5, label: "bad" }],
      },
    ]);
  });

  it("adds the classifier's own flag field (refusal) equal to flagged", async () => {
    const { records } = await run(
      '{"text":"Sorry, but I cannot help with that."}\n{"text":"Paris is the capital of France."}\n',
      refusalClassifier,
    );
    expect(records.map((record) => [record.flagged, record.refusal])).toEqual([
      [true, true],
      [false, false],
    ]);
  });

  it("answers a bad line with an error line naming its number, and goes on", async () => {
    const input = ['{"text":"ok"}', "not json", '{"id":3}', '{"text":5}', "[1]", "", '{"text":"bad"}'].join(
      "\n",
    );
    const { result, records, bad } = await run(`${input}\n`);
    expect(result).toEqual({ lines: 7, badLines: 5 });
    expect(bad.map(([line]) => line)).toEqual([2, 3, 4, 5, 6]);
    expect(records).toHaveLength(7);
    expect(records[1]!.error).toMatch(/^line 2: not valid JSON/);
    expect(records[2]).toEqual({ id: 3, error: "line 3: no text field" });
    expect(records[3]).toMatchObject({ text: 5, error: "line 4: text must be a string, not a number" });
    expect(records[4]!.error).toMatch(/^line 5: expected a JSON object/);
    expect(records[5]!.error).toMatch(/^line 6: empty line/);
    expect(records[6]).toMatchObject({ flagged: true });
  });

  it("accepts CRLF line endings and a last line without a newline", async () => {
    const { records } = await run('{"text":"bad"}\r\n{"text":"good"}');
    expect(records.map((record) => record.flagged)).toEqual([true, false]);
  });

  it("streams: writes each line's answer before the input has ended", async () => {
    const source = new PassThrough();
    const output = new PassThrough();
    const done = classifyJsonLines({
      classifier: keywordClassifier,
      input: source,
      output,
      onBadLine: () => {},
    });
    source.write('{"text":"bad"}\n');
    const [first] = (await once(output, "data")) as [Buffer];
    expect(JSON.parse(first.toString("utf8"))).toMatchObject({ flagged: true });
    source.end('{"text":"ok"}\n');
    expect(await done).toEqual({ lines: 2, badLines: 0 });
  });

  it("waits for a slow reader instead of buffering without bound", async () => {
    const source = new PassThrough();
    let release: () => void = () => {};
    const slow = new Writable({
      highWaterMark: 1,
      write(_chunk, _encoding, callback) {
        release = callback;
      },
    });
    // Counts what the classifier hands to the stream, not what the stream has passed on.
    let writes = 0;
    const write = slow.write.bind(slow);
    slow.write = ((chunk: string) => {
      writes++;
      return write(chunk);
    }) as typeof slow.write;
    const done = classifyJsonLines({
      classifier: keywordClassifier,
      input: source,
      output: slow,
      onBadLine: () => {},
    });
    source.end('{"text":"a"}\n{"text":"b"}\n{"text":"c"}\n');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(writes).toBe(1);
    for (let index = 0; index < 3; index++) {
      release();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(await done).toEqual({ lines: 3, badLines: 0 });
    expect(writes).toBe(3);
  });
});
