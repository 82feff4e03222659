import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import path from "node:path";

/**
 * A pids cgroup that caps the sandbox's process count. RLIMIT_NPROC does the job for ordinary
 * users, but the kernel exempts processes whose real user is the host's root (fork() skips the
 * check for INIT_USER), so when Warden runs as root the limit needs a cgroup instead.
 */
export interface PidsCgroup {
  /** Write a pid here to move that process (and its future children) into the cgroup. */
  procsFile: string;
  remove(): Promise<void>;
}

export function createPidsCgroup(name: string, maximum: number): PidsCgroup | null {
  for (const parent of candidateParents()) {
    const directory = path.join(parent, name);
    try {
      mkdirSync(directory);
    } catch {
      continue;
    }
    const maxFile = path.join(directory, "pids.max");
    if (!existsSync(maxFile)) {
      rmdirSync(directory);
      continue;
    }
    try {
      writeFileSync(maxFile, String(maximum));
    } catch {
      rmdirSync(directory);
      continue;
    }
    return {
      procsFile: path.join(directory, "cgroup.procs"),
      remove: () => removeWhenEmpty(directory),
    };
  }
  return null;
}

/** Our own pids cgroup, v1 (`N:pids:/path`) or v2 (`0::/path`), under the usual mount points. */
function candidateParents(): string[] {
  let lines: string[];
  try {
    lines = readFileSync("/proc/self/cgroup", "utf8").trim().split("\n");
  } catch {
    return [];
  }
  const parents: string[] = [];
  for (const line of lines) {
    const [, controllers, own] = line.split(":");
    if (own === undefined) continue;
    if (controllers?.split(",").includes("pids")) parents.push(path.join("/sys/fs/cgroup/pids", own));
    if (controllers === "") parents.push(path.join("/sys/fs/cgroup", own));
  }
  return parents;
}

async function removeWhenEmpty(directory: string): Promise<void> {
  // The kernel frees a cgroup's pids slightly after the processes are reaped.
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      rmdirSync(directory);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EBUSY") return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
