import { lstatSync, readlinkSync } from "node:fs";
import path from "node:path";

/** Linux gives up after 40 links (ELOOP); so do we. */
const maximumLinksFollowed = 40;

type Entry = { kind: "missing" } | { kind: "plain" } | { kind: "link"; target: string };
type WalkedDirectory = { path: string; exists: boolean };

/**
 * Resolves paths the way the kernel does, component by component: `..` applies to the real
 * directory reached so far (so `link/../x` goes through the link first), and symbolic links are
 * followed even when their target does not exist yet (writing through a dangling link creates
 * the target). Components below a missing one are appended as written, but `..` back out of
 * a missing directory returns to checking links.
 *
 * One resolver serves one decision: it remembers what it saw, so a call with many strings
 * under the same directory costs one `lstat` per distinct prefix, and nothing is cached across
 * decisions (a link the agent created a moment ago must be seen).
 */
export class PhysicalPathResolver {
  readonly #entries = new Map<string, Entry>();
  readonly #base: string;
  readonly #baseWalk: readonly WalkedDirectory[];

  /**
   * `base` is where relative paths start: an already physical directory, taken as it is
   * (checking it again for every path would cost an `lstat` per component).
   */
  constructor(base = "/") {
    this.#base = base;
    const walk: WalkedDirectory[] = [{ path: "/", exists: true }];
    for (const part of base.split("/")) {
      if (part === "") continue;
      const parent = walk[walk.length - 1] as WalkedDirectory;
      walk.push({ path: parent.path === "/" ? `/${part}` : `${parent.path}/${part}`, exists: true });
    }
    this.#baseWalk = walk;
  }

  /** `pathText` may be relative and may contain `.`, `..` and repeated slashes. */
  resolve(pathText: string): string {
    const pending = pathText.split("/").reverse();
    // The directories walked so far, each with whether it exists; `..` pops one.
    const walked: WalkedDirectory[] = pathText.startsWith("/")
      ? [{ path: "/", exists: true }]
      : [...this.#baseWalk];
    let linksFollowed = 0;
    while (pending.length > 0) {
      const part = pending.pop() as string;
      if (part === "" || part === ".") continue;
      if (part === "..") {
        if (walked.length > 1) walked.pop();
        continue;
      }
      const current = walked[walked.length - 1] as WalkedDirectory;
      const next = current.path === "/" ? `/${part}` : `${current.path}/${part}`;
      const entry: Entry = current.exists ? this.#entry(next) : { kind: "missing" };
      if (entry.kind !== "link") {
        walked.push({ path: next, exists: entry.kind === "plain" });
        continue;
      }
      linksFollowed++;
      if (linksFollowed > maximumLinksFollowed) return path.resolve(this.#base, pathText);
      if (entry.target.startsWith("/")) walked.length = 1;
      const targetParts = entry.target.split("/");
      for (let index = targetParts.length - 1; index >= 0; index--)
        pending.push(targetParts[index] as string);
    }
    return (walked[walked.length - 1] as WalkedDirectory).path;
  }

  #entry(physicalPath: string): Entry {
    let entry = this.#entries.get(physicalPath);
    if (entry) return entry;
    try {
      const stats = lstatSync(physicalPath, { throwIfNoEntry: false });
      if (stats === undefined) entry = { kind: "missing" };
      else if (stats.isSymbolicLink()) entry = { kind: "link", target: readlinkSync(physicalPath) };
      else entry = { kind: "plain" };
    } catch {
      // ENOTDIR, ENAMETOOLONG, EACCES, a NUL byte: nothing the call could reach through it.
      entry = { kind: "missing" };
    }
    this.#entries.set(physicalPath, entry);
    return entry;
  }
}
