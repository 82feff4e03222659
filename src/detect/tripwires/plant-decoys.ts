import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { TripwireSet } from "./tripwire-detector.js";

/**
 * Writes the decoy files into a workspace (creating folders, never overwriting a real file)
 * and returns the paths written. A path that leaves the workspace is refused.
 */
export async function plantDecoyFiles(
  workspace: string,
  files: readonly { path: string; content: string }[],
): Promise<string[]> {
  const root = path.resolve(workspace);
  const written: string[] = [];
  for (const file of files) {
    const target = path.resolve(root, file.path);
    if (target !== root && !target.startsWith(`${root}${path.sep}`)) {
      throw new Error(`tripwires.files: ${file.path} leaves the workspace`);
    }
    await mkdir(path.dirname(target), { recursive: true });
    try {
      await writeFile(target, file.content, { flag: "wx", mode: 0o600 });
      written.push(target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
  return written;
}

/** The keyed fingerprints the record will hold for the decoy credentials, by decoy name. */
export function decoyFingerprints(
  tripwires: TripwireSet,
  fingerprint: (secret: string) => string,
): Map<string, string> {
  return new Map(tripwires.credentials.map((credential) => [credential.name, fingerprint(credential.value)]));
}
