import { fileURLToPath } from "node:url";

export interface PathCandidateOptions {
  homeDirectory: string;
  /** Variables `$NAME` and `${NAME}` expand to, as a shell running the command would. */
  environment: Readonly<Record<string, string | undefined>>;
}

/** A whole argument longer than this is content, not a path; its words are still examined. */
const longestWholePath = 4096;

// Shell syntax and quoting that can surround a path inside a command line.
const tokenSeparators = /[\s"'`;&|<>(){}[\],=]+/;
const fileUri = /file:[^\s"'`<>|;()]+/gi;
const otherUri = /^[a-z][a-z0-9+.-]*:\/\//i;
const variableReference = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

/**
 * Every way a string in a tool call could name a file: the whole string (a `path` argument),
 * each word of it (a shell command, a script), `file://` URIs, with `~` and environment
 * variables expanded. Over-collecting is cheap and only matters when a candidate resolves into
 * a protected place; under-collecting is a way around the rule.
 */
export function collectPathCandidates(text: string, options: PathCandidateOptions, into: Set<string>): void {
  if (text.length === 0) return;
  collectFrom(text, options, into);
  // Expanded as a whole first: `${HOME}` would otherwise be cut apart at its braces.
  if (text.includes("$")) {
    const expanded = text.replace(
      variableReference,
      (_match, braced: string | undefined, bare: string | undefined) =>
        options.environment[(braced ?? bare) as string] ?? "",
    );
    if (expanded !== text) collectFrom(expanded, options, into);
  }
}

function collectFrom(text: string, options: PathCandidateOptions, into: Set<string>): void {
  if (text.length <= longestWholePath && !text.includes("\n")) addCandidate(text.trim(), options, into);
  if (text.includes("file:")) {
    for (const match of text.matchAll(fileUri)) {
      try {
        into.add(fileURLToPath(match[0]));
      } catch {
        // Not a local file URL (a remote host, an encoded slash): it names nothing here.
      }
    }
  }
  for (const token of text.split(tokenSeparators)) {
    addCandidate(token, options, into);
    // `PATH=$PATH:/x`, `host:/path`: colon-separated lists of paths.
    if (token.includes(":") && !otherUri.test(token)) {
      for (const part of token.split(":")) addCandidate(part, options, into);
    }
  }
}

function addCandidate(raw: string, options: PathCandidateOptions, into: Set<string>): void {
  // `curl -d @file`
  const token = raw.startsWith("@") ? raw.slice(1) : raw;
  if (token.length === 0 || otherUri.test(token)) return;
  if (token === "~") into.add(options.homeDirectory);
  else if (token.startsWith("~/")) into.add(`${options.homeDirectory}${token.slice(1)}`);
  else into.add(token);
}
