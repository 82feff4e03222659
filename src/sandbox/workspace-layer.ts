import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { PathState } from "./change-set.js";

/**
 * One session's copy-on-write scratch layer, kept in Warden's data directory (never in the
 * workspace, never visible inside the sandbox). `upper` and `work` are overlayfs' upper and work
 * directories and must sit on the same file system; `etc` holds the minimal passwd, group and
 * hosts files the sandbox sees; `base.json` records, per touched path, what the real workspace
 * held when the session first touched it (what applying checks against).
 */
export interface WorkspaceLayer {
  sessionId: string;
  workspace: string;
  directory: string;
  upper: string;
  work: string;
  etc: string;
}

const sessionIdPattern = /^[A-Za-z0-9_-]{1,64}$/;

export function layerDirectory(dataDir: string, sessionId: string): string {
  if (!sessionIdPattern.test(sessionId)) throw new Error(`invalid sandbox session id: ${sessionId}`);
  return path.join(dataDir, "sandbox", sessionId);
}

/** Creates the layer, or opens it when the session already has one for the same workspace. */
export function openWorkspaceLayer(dataDir: string, sessionId: string, workspace: string): WorkspaceLayer {
  const directory = layerDirectory(dataDir, sessionId);
  const layer: WorkspaceLayer = {
    sessionId,
    workspace,
    directory,
    upper: path.join(directory, "upper"),
    work: path.join(directory, "work"),
    etc: path.join(directory, "etc"),
  };
  const metaPath = path.join(directory, "layer.json");
  if (existsSync(metaPath)) {
    const meta = JSON.parse(readFileSync(metaPath, "utf8")) as { workspace?: unknown };
    if (meta.workspace !== workspace)
      throw new Error(`sandbox session ${sessionId} belongs to workspace ${String(meta.workspace)}`);
    return layer;
  }
  mkdirSync(layer.upper, { recursive: true, mode: 0o700 });
  mkdirSync(layer.work, { recursive: true, mode: 0o700 });
  mkdirSync(layer.etc, { recursive: true, mode: 0o700 });
  chmodSync(path.join(dataDir, "sandbox"), 0o700);
  writeFileSync(
    path.join(layer.etc, "passwd"),
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
  );
  writeFileSync(path.join(layer.etc, "group"), "root:x:0:\nnogroup:x:65534:\n");
  writeFileSync(path.join(layer.etc, "hosts"), "127.0.0.1 localhost\n::1 localhost\n");
  writeFileSync(metaPath, `${JSON.stringify({ workspace })}\n`);
  return layer;
}

export function readBaseStates(layer: WorkspaceLayer): Map<string, PathState> {
  const file = path.join(layer.directory, "base.json");
  if (!existsSync(file)) return new Map();
  return new Map(Object.entries(JSON.parse(readFileSync(file, "utf8")) as Record<string, PathState>));
}

export function writeBaseStates(layer: WorkspaceLayer, states: Map<string, PathState>): void {
  const file = path.join(layer.directory, "base.json");
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(Object.fromEntries(states))}\n`);
  renameSync(temporary, file);
}

export function removeWorkspaceLayer(layer: WorkspaceLayer): void {
  // overlayfs leaves `work/work` with mode 000; without this a non-root owner cannot delete it.
  const inner = path.join(layer.work, "work");
  if (existsSync(inner)) chmodSync(inner, 0o700);
  rmSync(layer.directory, { recursive: true, force: true });
}

/** Drops every staged change of the layer (upper and work directories, base states); keeps the session. */
export function resetWorkspaceLayer(layer: WorkspaceLayer): void {
  const inner = path.join(layer.work, "work");
  if (existsSync(inner)) chmodSync(inner, 0o700);
  for (const directory of [layer.upper, layer.work]) {
    rmSync(directory, { recursive: true, force: true });
    mkdirSync(directory, { mode: 0o700 });
  }
  rmSync(path.join(layer.directory, "base.json"), { force: true });
}
