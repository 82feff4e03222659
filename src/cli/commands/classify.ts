import type { Readable, Writable } from "node:stream";
import type { Command } from "commander";
import { WardenError } from "../../core/errors.js";
import { classifyJsonLines } from "../../detect/classify-json-lines.js";
import { textClassifiers } from "../../detect/text-classifiers.js";
import { printError } from "../output.js";

export interface ClassifyStreams {
  input: Readable;
  output: Writable;
  /** Where bad lines are reported (default: stderr, as `warden: line N: ...`). */
  reportBadLine?: (lineNumber: number, problem: string) => void;
}

export function registerClassify(program: Command, streams?: ClassifyStreams): void {
  const available = [...textClassifiers.values()];
  program
    .command("classify")
    .description(
      "run an offline text detector over JSON lines from stdin; write them to stdout with its verdict",
    )
    .argument("<detector>", `the detector: ${available.map((classifier) => classifier.name).join(", ")}`)
    .addHelpText(
      "after",
      [
        "",
        "Each input line is a JSON object with a text field; other fields are kept. Each output line",
        "adds flagged (boolean), score (0-1) and evidence (spans [start, end) of text, with labels);",
        "refusal also adds refusal (the same as flagged). One output line per input line, in order.",
        "",
        "Detectors:",
        ...available.map((classifier) => `  ${classifier.name.padEnd(20)} ${classifier.description}`),
        "",
        "Exit codes: 0 every line classified, 1 some line was bad (named on stderr; its output line",
        "has an error field), 2 unknown detector or bad usage.",
        "",
        "Example:",
        `  echo '{"id": 1, "text": "Sorry, but I cannot help with that."}' | warden classify refusal`,
        '  {"id":1,"text":"Sorry, but I cannot help with that.","flagged":true,"refusal":true,"score":0.9992,"evidence":[...]}',
      ].join("\n"),
    )
    .action(async (name: string) => {
      const classifier = textClassifiers.get(name);
      if (!classifier) {
        throw new WardenError(
          "usage",
          `unknown detector "${name}"; available: ${available.map((known) => known.name).join(", ")}`,
        );
      }
      const result = await classifyJsonLines({
        classifier,
        input: streams?.input ?? process.stdin,
        output: streams?.output ?? process.stdout,
        onBadLine:
          streams?.reportBadLine ?? ((lineNumber, problem) => printError(`line ${lineNumber}: ${problem}`)),
      });
      if (result.badLines > 0) {
        printError(`${result.badLines} of ${result.lines} lines could not be classified`);
        process.exitCode = 1;
      }
    });
}
