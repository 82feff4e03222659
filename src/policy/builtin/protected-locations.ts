import path from "node:path";
import { PhysicalPathResolver } from "./physical-path.js";

/**
 * The places no tool call may name: each protected path both as written (normalised) and as
 * its real path, since either spelling can reach it.
 *
 * Strict ancestors of a protected path are protected too (`rm -rf ~/.local/state` removes the
 * data directory), except the ancestors every agent legitimately touches: the filesystem root,
 * the home directory, the workspace and the directories above them.
 */
export class ProtectedLocations {
  readonly #roots: string[];
  readonly #rootPrefixes: string[];
  readonly #ancestors: Set<string>;

  constructor(protectedPaths: readonly string[], everydayDirectories: readonly string[]) {
    const resolver = new PhysicalPathResolver();
    const spellings = (location: string) => {
      const normalised = path.resolve(location);
      return [normalised, resolver.resolve(normalised)];
    };
    this.#roots = [...new Set(protectedPaths.flatMap(spellings))];
    this.#rootPrefixes = this.#roots.map((root) => (root === "/" ? "/" : `${root}/`));
    const everyday = new Set<string>(["/"]);
    for (const directory of everydayDirectories) {
      for (const spelling of spellings(directory)) {
        for (let current = spelling; ; current = path.dirname(current)) {
          everyday.add(current);
          if (current === "/") break;
        }
      }
    }
    this.#ancestors = new Set();
    for (const root of this.#roots) {
      for (let current = path.dirname(root); !everyday.has(current); current = path.dirname(current)) {
        this.#ancestors.add(current);
      }
    }
  }

  /** Whether an absolute, normalised path is a protected path, inside one, or a guarded ancestor. */
  covers(absolutePath: string): boolean {
    if (this.#ancestors.has(absolutePath)) return true;
    for (let index = 0; index < this.#roots.length; index++) {
      if (absolutePath === this.#roots[index] || absolutePath.startsWith(this.#rootPrefixes[index] as string))
        return true;
    }
    return false;
  }
}
