import { existsSync, lstatSync, readlinkSync } from "node:fs";
import path from "node:path";
import type { SandboxLimits } from "./sandbox-limits.js";
import type { WorkspaceLayer } from "./workspace-layer.js";

/** Where the sandbox sees the workspace's lower (read-only) and scratch layers before they are hidden. */
export const lowerMountPoint = "/.warden/lower";
export const scratchMountPoint = "/.warden/scratch";

/** The parts of `/etc` a program needs; nothing else of the host's `/etc` is visible. */
const etcAllowList = [
  "ld.so.cache",
  "ld.so.conf",
  "ld.so.conf.d",
  // Debian's /usr/bin/awk, editor, pager ... are symlinks into /etc/alternatives.
  "alternatives",
  "ssl",
  "ca-certificates",
  "ca-certificates.conf",
  "localtime",
  "nsswitch.conf",
  "mime.types",
];
const rootSymlinksOrDirectories = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

export interface SandboxMountPlan {
  layer: WorkspaceLayer;
  /** `$HOME` inside: an empty tmpfs at the host's home path. */
  home: string;
  /** Host paths that must stay hidden even if they sit below an allowed mount (Warden's data dir). */
  masked: readonly string[];
  /** Host files or directories shown read-only at `target` (for `warden run`'s relay). */
  readOnlyBinds?: readonly { source: string; target: string }[];
}

/**
 * The mount namespace is built from nothing: an allow-list of read-only system directories,
 * fresh /proc, /dev and /tmp, an empty $HOME, and the workspace as an overlay whose writes land
 * in the session's scratch layer. `--unshare-all` includes the network namespace, so the command
 * has only a loopback interface of its own.
 */
export function bubblewrapArguments(plan: SandboxMountPlan): string[] {
  const { layer } = plan;
  const args = ["--unshare-all", "--unshare-user", "--die-with-parent", "--new-session"];
  args.push("--hostname", "warden-sandbox");
  args.push(...systemArguments());
  for (const name of etcAllowList) {
    const hostPath = path.join("/etc", name);
    if (existsSync(hostPath)) args.push("--ro-bind", hostPath, hostPath);
  }
  for (const name of ["passwd", "group", "hosts"])
    args.push("--ro-bind", path.join(layer.etc, name), path.join("/etc", name));
  args.push("--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", "/var/tmp");
  args.push("--tmpfs", plan.home);
  for (const hidden of plan.masked) if (isBelowAllowedMount(hidden)) args.push("--tmpfs", hidden);
  for (const bind of plan.readOnlyBinds ?? []) args.push("--ro-bind", bind.source, bind.target);
  args.push("--ro-bind", layer.workspace, lowerMountPoint, "--bind", layer.directory, scratchMountPoint);
  args.push("--dir", layer.workspace);
  // Only the setup script gets CAP_SYS_ADMIN (inside the sandbox's user namespace, to mount the
  // overlay); it drops every capability before it runs the command.
  args.push("--cap-add", "CAP_SYS_ADMIN", "--chdir", "/");
  return args;
}

/**
 * Runs as the sandbox's first process: mounts the overlay, hides the layers behind an empty
 * read-only tmpfs, reports readiness on fd 3 (closed before the command runs, so the command
 * cannot fake it), drops all capabilities and applies the rlimits.
 * Arguments: workspace, address space, processes, CPU seconds, file size, then the command.
 */
export const setupScript = [
  "set -e",
  'workspace="$1"; memory="$2"; processes="$3"; cpu="$4"; filesize="$5"; shift 5',
  // A session's decoys (tripwires) sit between the workspace and the scratch layer: seen inside,
  // never part of a change set.
  `lower=${lowerMountPoint}; if [ -d ${scratchMountPoint}/decoys ]; then lower=${scratchMountPoint}/decoys:$lower; fi`,
  `mount -t overlay overlay -o "lowerdir=$lower,upperdir=${scratchMountPoint}/upper,workdir=${scratchMountPoint}/work,userxattr" "$workspace"`,
  "mount -t tmpfs -o ro,size=4k,mode=000 warden /.warden",
  'cd "$workspace"',
  "unset OLDPWD",
  "printf ready >&3",
  "exec 3>&-",
  // Descriptors Warden itself inherited without close-on-exec would otherwise reach the command
  // (bwrap and Node pass them on); bash can close descriptors above 9, dash cannot.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
  'if [ -n "${BASH_VERSION:-}" ]; then for fd in /proc/self/fd/*; do fd="${fd##*/}"; if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi; done; fi',
  'exec setpriv --bounding-set=-all --inh-caps=-all --ambient-caps=-all -- prlimit --as="$memory" --nproc="$processes" --cpu="$cpu" --fsize="$filesize" --core=0 -- "$@"',
].join("\n");

const setupShell = existsSync("/bin/bash") ? "/bin/bash" : "/bin/sh";

export function setupArguments(
  layer: WorkspaceLayer,
  limits: SandboxLimits,
  command: readonly string[],
): string[] {
  return [
    setupShell,
    "-c",
    setupScript,
    "warden-sandbox-setup",
    layer.workspace,
    String(limits.memoryBytes),
    String(limits.processes),
    String(limits.cpuSeconds),
    String(limits.fileSizeBytes),
    ...command,
  ];
}

/** `/usr` read-only, and `/bin`, `/lib*`, `/sbin` as the host has them (merged-/usr symlinks or directories). */
export function systemArguments(): string[] {
  const args = ["--ro-bind", "/usr", "/usr"];
  for (const name of rootSymlinksOrDirectories) {
    const hostPath = `/${name}`;
    const stat = lstatOrNull(hostPath);
    if (stat?.isSymbolicLink()) args.push("--symlink", readlinkSync(hostPath), hostPath);
    else if (stat?.isDirectory()) args.push("--ro-bind", hostPath, hostPath);
  }
  return args;
}

function isBelowAllowedMount(hostPath: string): boolean {
  return ["/usr", "/etc", "/tmp", "/var/tmp"].some(
    (root) => hostPath === root || hostPath.startsWith(`${root}/`),
  );
}

function lstatOrNull(hostPath: string) {
  try {
    return lstatSync(hostPath);
  } catch {
    return null;
  }
}
