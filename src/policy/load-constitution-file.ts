import { readFile } from "node:fs/promises";
import { errorMessage } from "../core/errors.js";
import { type ConstitutionResult, parseConstitution } from "./parse-constitution.js";

/** Reads and parses a constitution file; an unreadable file is a problem, not an exception. */
export async function loadConstitutionFile(path: string): Promise<ConstitutionResult> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    return { ok: false, problems: [`${path}: cannot read the file: ${errorMessage(error)}`] };
  }
  return parseConstitution(text, path);
}
