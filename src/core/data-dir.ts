import { homedir } from "node:os";
import path from "node:path";

/**
 * Where Warden keeps its state: `--data-dir`, else `$WARDEN_HOME`, else
 * `$XDG_STATE_HOME/warden` (usually `~/.local/state/warden`). Never the working directory:
 * agents work there.
 */
export function resolveDataDir(
  flag: string | undefined,
  environment: NodeJS.ProcessEnv = process.env,
): string {
  if (flag) return path.resolve(flag);
  if (environment.WARDEN_HOME) return path.resolve(environment.WARDEN_HOME);
  const stateHome = environment.XDG_STATE_HOME || path.join(homedir(), ".local", "state");
  return path.join(path.resolve(stateHome), "warden");
}

/** File names inside the data directory. */
export const dataFiles = {
  store: "events.sqlite",
  signingKey: "signing-key.pem",
  publicKey: "signing-key.pub.pem",
  secretKey: "fingerprint-key",
  operatorToken: "operator.token",
  socket: "warden.sock",
  pid: "warden.pid",
  daemonLog: "daemon.log",
} as const;
