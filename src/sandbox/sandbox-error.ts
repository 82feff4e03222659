import { WardenError } from "../core/errors.js";

/**
 * The sandbox cannot run here (bubblewrap missing, no user namespaces, no overlayfs). Warden
 * never falls back to running the command unsandboxed; the message says how to fix the host.
 */
export class SandboxUnavailableError extends WardenError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super("config-invalid", message, options);
    this.name = "SandboxUnavailableError";
  }
}

export const installBubblewrapHint =
  "install bubblewrap (Debian/Ubuntu: `apt-get install -y bubblewrap`; Fedora: `dnf install bubblewrap`)";

export const enableUserNamespacesHint =
  "allow unprivileged user namespaces (`sysctl -w kernel.unprivileged_userns_clone=1`; on Ubuntu 23.10+ also `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` or an AppArmor profile for bwrap; in a container, run it with user namespaces allowed, e.g. Docker `--security-opt seccomp=unconfined`)";
