import { type FSWatcher, watch } from "node:fs";
import type { EventStore } from "../core/event-store.js";
import { newSpanId, newTraceId } from "../core/ids.js";
import type { Logger } from "../core/logger.js";
import { type BuiltinRuleOptions, createPolicyEngine, loadConstitutionFile } from "../policy/index.js";
import type { PolicyDecider } from "./oversight-service.js";

/**
 * Holds the policy in force. A reload is atomic: a broken new file keeps the old policy and
 * records a `policy-load` event with the problems. No file at all means deny everything.
 */
export class PolicyHolder {
  readonly #path: string | null;
  readonly #builtins: BuiltinRuleOptions;
  readonly #store: EventStore;
  readonly #logger: Logger;
  #current: PolicyDecider;
  #watcher: FSWatcher | null = null;
  #reloadTimer: NodeJS.Timeout | null = null;

  private constructor(
    path: string | null,
    builtins: BuiltinRuleOptions,
    store: EventStore,
    logger: Logger,
    initial: PolicyDecider,
  ) {
    this.#path = path;
    this.#builtins = builtins;
    this.#store = store;
    this.#logger = logger;
    this.#current = initial;
  }

  /** Loads the constitution; a broken file at start-up is a configuration error (throws). */
  static async load(options: {
    path: string | null;
    builtins: BuiltinRuleOptions;
    store: EventStore;
    logger: Logger;
  }): Promise<{ holder: PolicyHolder; problems: string[] }> {
    const { path, builtins, store, logger } = options;
    let problems: string[] = [];
    let engine = createPolicyEngine({ constitution: null, builtins });
    if (path) {
      const loaded = await loadConstitutionFile(path);
      if (loaded.ok) engine = createPolicyEngine({ constitution: loaded.constitution, builtins });
      else problems = loaded.problems;
    }
    const holder = new PolicyHolder(path, builtins, store, logger, engine);
    await holder.#record(problems.length === 0, problems);
    return { holder, problems };
  }

  get current(): PolicyDecider {
    return this.#current;
  }

  watch(): void {
    if (!this.#path) return;
    try {
      this.#watcher = watch(this.#path, () => {
        // Editors write in several steps; reload once the file has settled.
        if (this.#reloadTimer) clearTimeout(this.#reloadTimer);
        this.#reloadTimer = setTimeout(() => void this.reload(), 100);
      });
    } catch (error) {
      this.#logger.warn(
        { path: this.#path, error: (error as Error).message },
        "cannot watch the constitution for changes",
      );
    }
  }

  async reload(): Promise<{ ok: boolean; problems: string[] }> {
    if (!this.#path) return { ok: true, problems: [] };
    const loaded = await loadConstitutionFile(this.#path);
    if (!loaded.ok) {
      this.#logger.error(
        { path: this.#path, problems: loaded.problems },
        "new constitution rejected; the previous one stays in force",
      );
      await this.#record(false, loaded.problems);
      return { ok: false, problems: loaded.problems };
    }
    const engine = createPolicyEngine({ constitution: loaded.constitution, builtins: this.#builtins });
    if (engine.version !== this.#current.version) {
      this.#current = engine;
      this.#logger.info({ policyVersion: engine.version }, "constitution reloaded");
      await this.#record(true, []);
    }
    return { ok: true, problems: [] };
  }

  close(): void {
    this.#watcher?.close();
    if (this.#reloadTimer) clearTimeout(this.#reloadTimer);
  }

  async #record(ok: boolean, problems: string[]): Promise<void> {
    await this.#store.append({
      type: "policy-load",
      agentId: "warden",
      sessionId: "warden",
      traceId: newTraceId(),
      spanId: newSpanId(),
      data: { ok, path: this.#path, policyVersion: ok ? this.#current.version : null, problems },
    });
  }
}
