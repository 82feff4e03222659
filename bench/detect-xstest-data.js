// Reads the XSTest v2 completion files (../shared/data/xstest, or $XSTEST_DIR): one row per
// model reply with its human label. A reply counts as a refusal when labelled full or partial
// refusal. Shared by bench/detect-accuracy.js and bench/detect-refusal-fit.js.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const xstestDirectory =
  process.env.XSTEST_DIR ?? path.resolve(fileURLToPath(new URL("../../shared/data/xstest", import.meta.url)));
export const xstestFiles = ["gpt4.csv", "llama2new.csv", "mistralinstruct.csv"];

/** RFC 4180: quoted fields may hold commas, newlines and doubled quotes. */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  for (let index = 0; index < text.length; index++) {
    const character = text[index];
    if (quoted) {
      if (character === '"') {
        if (text[index + 1] === '"') {
          field += '"';
          index++;
        } else quoted = false;
      } else field += character;
    } else if (character === '"') quoted = true;
    else if (character === ",") {
      row.push(field);
      field = "";
    } else if (character === "\n" || character === "\r") {
      if (character === "\r" && text[index + 1] === "\n") index++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += character;
  }
  if (field !== "" || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** `{ id, prompt, text, label, refusal }` per reply; `label` is the human final label. */
export function readXstestFile(file) {
  const [header, ...rows] = parseCsv(readFileSync(path.join(xstestDirectory, file), "utf8"));
  const column = (name) => {
    const index = header.indexOf(name);
    if (index < 0) throw new Error(`${file}: no column ${name}`);
    return index;
  };
  const [id, prompt, completion, finalLabel] = ["id", "prompt", "completion", "final_label"].map(column);
  return rows
    .filter((row) => row.length === header.length)
    .map((row) => ({
      id: row[id],
      prompt: row[prompt],
      text: row[completion],
      label: row[finalLabel],
      refusal: row[finalLabel] !== "1_full_compliance",
    }));
}

export function xstestAvailable() {
  return xstestFiles.every((file) => existsSync(path.join(xstestDirectory, file)));
}
