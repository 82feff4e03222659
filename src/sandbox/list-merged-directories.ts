import { spawn } from "node:child_process";
import { lowerMountPoint, scratchMountPoint, systemArguments } from "./bubblewrap-arguments.js";
import type { WorkspaceLayer } from "./workspace-layer.js";

/**
 * Names each directory holds in the merged (workspace + scratch layer) view. The scratch layer
 * alone cannot say which lower entries an opaque directory hides: overlayfs marks opacity with a
 * `user.overlay.opaque` extended attribute, which Node cannot read. So a trusted helper sandbox
 * (no command of the agent runs in it) mounts the layers read-only and lists the directories.
 */
export function listMergedDirectories(
  bubblewrap: string,
  layer: WorkspaceLayer,
  directories: readonly string[],
): Promise<Map<string, Set<string>>> {
  const script = [
    "set -e",
    `mount -t overlay overlay -o "ro,userxattr,lowerdir=${scratchMountPoint}/upper:${lowerMountPoint}" /merged`,
    "cd /merged",
    "for directory; do printf 'D%s\\0' \"$directory\"; find \"./$directory\" -mindepth 1 -maxdepth 1 -printf 'N%f\\0'; done",
  ].join("\n");
  const args = [
    "--unshare-all",
    "--unshare-user",
    "--die-with-parent",
    "--new-session",
    ...systemArguments(),
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--ro-bind",
    layer.workspace,
    lowerMountPoint,
    "--ro-bind",
    layer.directory,
    scratchMountPoint,
    "--dir",
    "/merged",
    "--cap-add",
    "CAP_SYS_ADMIN",
    "--",
    "/bin/sh",
    "-c",
    script,
    "warden-list",
    ...directories,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(bubblewrap, args, {
      env: { PATH: "/usr/bin:/bin" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) {
        reject(
          new Error(`listing the sandbox's merged workspace failed: ${Buffer.concat(err).toString().trim()}`),
        );
        return;
      }
      const listing = new Map<string, Set<string>>();
      let current: Set<string> | undefined;
      for (const record of Buffer.concat(out).toString("utf8").split("\0")) {
        if (record.startsWith("D")) {
          current = new Set();
          listing.set(record.slice(1), current);
        } else if (record.startsWith("N")) current?.add(record.slice(1));
      }
      resolve(listing);
    });
  });
}
