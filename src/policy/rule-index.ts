import type { CompiledRule } from "./compile-rules.js";
import { constraintAllows } from "./tool-constraint.js";

const cachedSelectionLimit = 1024;

/**
 * Selects the rules that can match a call to `server`/`name`, in file order. A rule whose
 * condition requires another tool name or server (see tool-constraint.ts) cannot match, so
 * skipping it changes nothing but the time taken; rules without such a requirement are always
 * selected.
 */
export class RuleIndex {
  readonly #byName = new Map<string, CompiledRule[]>();
  readonly #byServer = new Map<string, CompiledRule[]>();
  readonly #unconstrained: CompiledRule[] = [];
  // Selections per call target; bounded, since the tool names come from the agent.
  readonly #selections = new Map<string, readonly CompiledRule[]>();

  constructor(rules: readonly CompiledRule[]) {
    for (const rule of rules) {
      const { names, servers } = rule.condition.toolConstraint;
      if (names !== undefined) {
        for (const name of names) appendTo(this.#byName, name, rule);
      } else if (servers !== undefined) {
        for (const server of servers) appendTo(this.#byServer, server, rule);
      } else {
        this.#unconstrained.push(rule);
      }
    }
  }

  select(server: string, name: string): readonly CompiledRule[] {
    const key = `${server}\u0000${name}`;
    let selection = this.#selections.get(key);
    if (selection === undefined) {
      // A rule sits in one bucket only, so concatenating cannot duplicate it.
      selection = [
        ...(this.#byName.get(name) ?? []),
        ...(this.#byServer.get(server) ?? []),
        ...this.#unconstrained,
      ]
        .filter((rule) => constraintAllows(rule.condition.toolConstraint, server, name))
        .sort((left, right) => left.order - right.order);
      if (this.#selections.size >= cachedSelectionLimit) this.#selections.clear();
      this.#selections.set(key, selection);
    }
    return selection;
  }
}

function appendTo(buckets: Map<string, CompiledRule[]>, key: string, rule: CompiledRule): void {
  const bucket = buckets.get(key);
  if (bucket) bucket.push(rule);
  else buckets.set(key, [rule]);
}
