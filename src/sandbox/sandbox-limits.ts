/** Resource limits for one sandboxed command. */
export interface SandboxLimits {
  /** Wall time; the whole process tree is killed when it runs out. */
  timeoutMs: number;
  /** RLIMIT_CPU: CPU seconds per process. */
  cpuSeconds: number;
  /** RLIMIT_AS: address space per process, in bytes. */
  memoryBytes: number;
  /** RLIMIT_NPROC: processes (threads count too) of the sandbox's user. */
  processes: number;
  /** RLIMIT_FSIZE: largest file a process may write, in bytes. */
  fileSizeBytes: number;
  /** Captured bytes per stream (stdout, stderr); the rest is dropped and the result says so. */
  outputBytes: number;
}

export const defaultSandboxLimits: SandboxLimits = {
  timeoutMs: 300_000,
  cpuSeconds: 300,
  // Address space, not resident memory: V8 reserves about 10 GiB per WebAssembly memory (Node's
  // fetch parses HTTP with one), so a tighter default breaks ordinary Node programs.
  memoryBytes: 32 * 1024 ** 3,
  processes: 512,
  fileSizeBytes: 1024 ** 3,
  outputBytes: 1024 ** 2,
};
