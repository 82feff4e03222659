import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/** Temp directories made by one test file, removed together from afterEach or afterAll. */
export class TemporaryDirectories {
  readonly #paths: string[] = [];

  create(prefix = "warden-test-"): string {
    const directory = mkdtempSync(path.join(tmpdir(), prefix));
    this.#paths.push(directory);
    return directory;
  }

  removeAll(): void {
    for (const directory of this.#paths.splice(0)) rmSync(directory, { recursive: true, force: true });
  }
}
