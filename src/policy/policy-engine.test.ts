import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { policyDecisionSchema } from "../core/decision.js";
import type { Constitution } from "./constitution-schema.js";
import { parseConstitution } from "./parse-constitution.js";
import { createPolicyEngine, type DecisionInput, noConstitutionDecision } from "./policy-engine.js";

const temporaryRoot = mkdtempSync(path.join(tmpdir(), "warden-policy-engine-"));
afterAll(() => rmSync(temporaryRoot, { recursive: true, force: true }));
const dataDir = path.join(temporaryRoot, "data");
const workspaceRoot = path.join(temporaryRoot, "workspace");
mkdirSync(dataDir);
mkdirSync(workspaceRoot);
const builtins = { dataDir, workspaceRoot };
const now = new Date("2025-06-01T12:00:00Z");

function constitutionFrom(yaml: string): Constitution {
  const result = parseConstitution(yaml, "test.yaml");
  if (!result.ok) throw new Error(result.problems.join("\n"));
  return result.constitution;
}

function call(
  name: string,
  callArguments: unknown = {},
  labels: string[] = [],
  server = "files",
): DecisionInput {
  return {
    agent: { id: "agent-1" },
    tool: { server, name, method: "tools/call", arguments: callArguments },
    session: { id: "session-1", labels },
  };
}

const layered = constitutionFrom(`
version: 1
default: deny
rules:
  - id: reads-are-fine
    when: 'tool.name == "read_file"'
    effect: allow
  - id: hold-etc-reads
    when: 'tool.name == "read_file" && tool.arguments.path.startsWith("/etc")'
    effect: hold
    rationale: System files may contain credentials.
    approvers: { roles: [security], count: 2 }
    holdTimeout: 30s
  - id: no-shadow-reads
    when: 'tool.name == "read_file" && tool.arguments.path.startsWith("/etc/shadow")'
    effect: deny
    rationale: Password hashes are never read.
    message: Reading /etc/shadow is not allowed; ask for the specific fact you need.
`);

describe("createPolicyEngine", () => {
  it("lets deny win over hold and hold over allow, recording every match", () => {
    const engine = createPolicyEngine({ constitution: layered, builtins });
    const denied = engine.decide(call("read_file", { path: "/etc/shadow" }), now);
    expect(denied.decision).toEqual({
      effect: "deny",
      ruleId: "no-shadow-reads",
      reason: "Reading /etc/shadow is not allowed; ask for the specific fact you need.",
    });
    expect(denied.applied).toEqual(denied.decision);
    expect(denied.matches.map((match) => match.ruleId)).toEqual([
      "reads-are-fine",
      "hold-etc-reads",
      "no-shadow-reads",
    ]);

    const held = engine.decide(call("read_file", { path: "/etc/hosts" }), now);
    expect(held.decision).toEqual({
      effect: "hold",
      ruleId: "hold-etc-reads",
      approvers: { roles: ["security"], count: 2 },
      expiresAt: "2025-06-01T12:00:30.000Z",
    });

    const allowed = engine.decide(call("read_file", { path: "notes.txt" }), now);
    expect(allowed.decision).toEqual({ effect: "allow", ruleId: "reads-are-fine" });
    expect(policyDecisionSchema.parse(allowed)).toEqual(allowed);
  });

  it("lets rules read the agent's model usage as agent.usage, counting absent usage as zero", () => {
    const engine = createPolicyEngine({
      constitution: constitutionFrom(`
version: 1
default: allow
rules:
  - id: daily-budget
    when: 'agent.usage.tokensLastDay > 50000 || agent.usage.requestsLastMinute >= 30'
    effect: deny
    rationale: The agent has spent its budget.
`),
      builtins,
    });
    const busy = {
      ...call("read_file"),
      agent: {
        id: "agent-1",
        usage: { requestsLastMinute: 2, tokensLastMinute: 900, tokensLastDay: 60_000 },
      },
    };
    const chatty = {
      ...call("read_file"),
      agent: { id: "agent-1", usage: { requestsLastMinute: 30, tokensLastMinute: 0, tokensLastDay: 0 } },
    };
    const quiet = {
      ...call("read_file"),
      agent: { id: "agent-1", usage: { requestsLastMinute: 1, tokensLastMinute: 10, tokensLastDay: 10 } },
    };
    expect(engine.decide(busy, now).applied).toMatchObject({ effect: "deny", ruleId: "daily-budget" });
    expect(engine.decide(chatty, now).applied).toMatchObject({ effect: "deny", ruleId: "daily-budget" });
    expect(engine.decide(quiet, now).applied.effect).toBe("allow");
    expect(engine.decide(call("read_file"), now).applied.effect).toBe("allow");
  });

  it("applies the stated default when no rule matches", () => {
    const denying = createPolicyEngine({ constitution: layered, builtins });
    expect(denying.decide(call("write_file"), now).decision).toEqual({
      effect: "deny",
      ruleId: "default",
      reason: expect.stringContaining("default is to deny"),
    });
    const allowing = createPolicyEngine({ constitution: { ...layered, default: "allow" }, builtins });
    expect(allowing.decide(call("write_file"), now).decision).toEqual({ effect: "allow", ruleId: "default" });
    const holding = createPolicyEngine({ constitution: { ...layered, default: "hold" }, builtins });
    expect(holding.decide(call("write_file"), now).decision).toEqual({
      effect: "hold",
      ruleId: "default",
      approvers: { roles: ["reviewer"], count: 1 },
      expiresAt: "2025-06-01T12:05:00.000Z",
    });
  });

  it("denies everything with no constitution loaded", () => {
    const engine = createPolicyEngine({ constitution: null, builtins });
    const decision = engine.decide(call("read_file", { path: "notes.txt" }), now);
    expect(decision.decision).toEqual({
      effect: "deny",
      ruleId: "no-constitution",
      reason: expect.any(String),
    });
    expect(decision.applied).toEqual(decision.decision);
    expect(noConstitutionDecision(engine.version).applied.effect).toBe("deny");
  });

  it("counts a condition that fails to evaluate as a match for deny and hold rules, not for allow rules", () => {
    const engine = createPolicyEngine({
      builtins,
      constitution: constitutionFrom(`
version: 1
default: allow
rules:
  - id: allow-small-writes
    when: 'tool.arguments.size < 100'
    effect: allow
  - id: hold-big-writes
    when: 'tool.arguments.size > 1000'
    effect: hold
    rationale: Big writes are reviewed.
  - id: deny-system-writes
    when: 'tool.arguments.path.startsWith("/etc")'
    effect: deny
    rationale: System files are off limits.
`),
    });
    const decision = engine.decide(call("write_file", {}), now);
    expect(decision.decision).toMatchObject({ effect: "deny", ruleId: "deny-system-writes" });
    expect(decision.matches).toEqual([
      { ruleId: "allow-small-writes", effect: "allow", mode: "enforce", error: "No such key: size" },
      { ruleId: "hold-big-writes", effect: "hold", mode: "enforce", error: "No such key: size" },
      { ruleId: "deny-system-writes", effect: "deny", mode: "enforce", error: "No such key: path" },
    ]);
    const onlyAllow = createPolicyEngine({
      builtins,
      constitution: constitutionFrom(
        "version: 1\ndefault: deny\nrules:\n  - id: allow-small\n    when: 'tool.arguments.size < 100'\n    effect: allow\n",
      ),
    });
    expect(onlyAllow.decide(call("write_file", {}), now).decision).toMatchObject({
      effect: "deny",
      ruleId: "default",
    });
  });

  it("records a shadow rule's match without letting it decide or label", () => {
    const engine = createPolicyEngine({
      builtins,
      constitution: constitutionFrom(`
version: 1
default: allow
rules:
  - id: trial-deny-deletes
    when: 'tool.name == "delete_file"'
    effect: deny
    rationale: Trying out a ban on deletes.
    mode: shadow
    labels: [deleter]
`),
    });
    const decision = engine.decide(call("delete_file"), now);
    expect(decision.decision).toEqual({ effect: "allow", ruleId: "default" });
    expect(decision.matches).toEqual([{ ruleId: "trial-deny-deletes", effect: "deny", mode: "shadow" }]);
    expect(decision.labels).toEqual([]);
  });

  it("computes the full decision in a shadow constitution but applies allow", () => {
    const engine = createPolicyEngine({ constitution: { ...layered, mode: "shadow" }, builtins });
    const decision = engine.decide(call("read_file", { path: "/etc/shadow" }), now);
    expect(decision.mode).toBe("shadow");
    expect(decision.decision).toMatchObject({ effect: "deny", ruleId: "no-shadow-reads" });
    expect(decision.applied).toEqual({ effect: "allow", ruleId: null });
  });

  it("still applies built-in rules in a shadow constitution", () => {
    const engine = createPolicyEngine({ constitution: { ...layered, mode: "shadow" }, builtins });
    const decision = engine.decide(call("read_file", { path: path.join(dataDir, "events.sqlite") }), now);
    expect(decision.applied).toMatchObject({ effect: "deny", ruleId: "builtin:protect-warden-files" });
  });

  it("lets built-in rules override any user rule and records both", () => {
    const engine = createPolicyEngine({
      builtins,
      constitution: constitutionFrom(
        "version: 1\ndefault: deny\nrules:\n  - id: allow-everything\n    when: 'true'\n    effect: allow\n",
      ),
    });
    const decision = engine.decide(call("read_file", { path: path.join(dataDir, "signing-key.pem") }), now);
    expect(decision.decision).toMatchObject({ effect: "deny", ruleId: "builtin:protect-warden-files" });
    expect(decision.matches).toEqual([
      { ruleId: "builtin:protect-warden-files", effect: "deny", mode: "enforce" },
      { ruleId: "allow-everything", effect: "allow", mode: "enforce" },
    ]);
  });

  it("reports the labels of matching rules so a later call can be decided on them", () => {
    const engine = createPolicyEngine({
      builtins,
      constitution: constitutionFrom(`
version: 1
default: allow
rules:
  - id: secrets-taint-the-session
    when: 'tool.name == "read_file" && tool.arguments.path.startsWith("secrets/")'
    effect: allow
    labels: [secret, tainted]
  - id: no-outbound-after-secrets
    when: 'tool.server == "mail" && "secret" in session.labels'
    effect: deny
    rationale: The session has read secrets.
`),
    });
    const read = engine.decide(call("read_file", { path: "secrets/api-key" }), now);
    expect(read.labels).toEqual(["secret", "tainted"]);
    expect(engine.decide(call("send", {}, [], "mail"), now).decision.effect).toBe("allow");
    expect(engine.decide(call("send", {}, read.labels, "mail"), now).decision).toMatchObject({
      effect: "deny",
      ruleId: "no-outbound-after-secrets",
    });
  });

  it("never throws: an internal failure is a deny that says so", () => {
    const engine = createPolicyEngine({ constitution: { ...layered, mode: "shadow" }, builtins });
    const decision = engine.decide(null as unknown as DecisionInput, now);
    expect(decision.decision).toEqual({
      effect: "deny",
      ruleId: "policy-error",
      reason: expect.stringMatching(
        /^Warden could not evaluate its policy for this call \(.+\), so the call was denied\.$/,
      ),
    });
    expect(decision.applied).toEqual(decision.decision);
    expect(engine.decide(call("read_file"), new Date(Number.NaN)).decision.ruleId).toBe("policy-error");
  });

  it("refuses to build an engine from a constitution whose conditions do not compile", () => {
    const broken: Constitution = {
      ...layered,
      rules: [{ id: "broken", when: "tool.nmae == 1", effect: "allow", mode: "enforce", labels: [] }],
    };
    expect(() => createPolicyEngine({ constitution: broken, builtins })).toThrow(
      /rules\[0\]\.when: No such key: nmae/,
    );
  });

  it("versions the policy by content: formatting does not change it, rules and built-ins do", () => {
    const version = (constitution: Constitution | null, options = builtins) =>
      createPolicyEngine({ constitution, builtins: options }).version;
    const reformatted = constitutionFrom(
      `# comments and layout do not matter\nversion: 1\ndefault: deny\nmode: enforce\nrules:\n${layered.rules
        .map((rule) => `  - ${JSON.stringify(rule)}`)
        .join("\n")}\n`,
    );
    expect(version(layered)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(version(reformatted)).toBe(version(layered));
    expect(version({ ...layered, default: "allow" })).not.toBe(version(layered));
    expect(version(null)).not.toBe(version(layered));
    expect(version(layered, { ...builtins, dataDir: path.join(temporaryRoot, "other") })).not.toBe(
      version(layered),
    );
  });
});

describe("rules that read a call's result", () => {
  const labelling = constitutionFrom(`
version: 1
default: allow
rules:
  - id: confidential-results
    when: 'tool.name == "read_file" && result.text.contains("CONFIDENTIAL")'
    effect: allow
    labels: [read-confidential]
  - id: no-mail-after-confidential
    when: '"read-confidential" in session.labels && tool.name == "send_email"'
    effect: deny
    rationale: Confidential material must not leave by mail.
`);

  it("label the session from what the call returned, not from the call", () => {
    const engine = createPolicyEngine({ constitution: labelling, builtins });
    const decision = engine.decide(call("read_file", { path: "a.txt" }), now);
    expect(decision.labels).toEqual([]);
    expect(decision.matches.map((match) => match.ruleId)).not.toContain("confidential-results");
    expect(
      engine.labelsForResult(call("read_file"), { text: "quarterly plan", isError: false }, now),
    ).toEqual([]);
    expect(
      engine.labelsForResult(call("read_file"), { text: "CONFIDENTIAL: merger", isError: false }, now),
    ).toEqual(["read-confidential"]);
    expect(engine.labelsForResult(call("list_files"), { text: "CONFIDENTIAL", isError: false }, now)).toEqual(
      [],
    );
    expect(engine.decide(call("send_email", {}, ["read-confidential"]), now).applied).toMatchObject({
      effect: "deny",
      ruleId: "no-mail-after-confidential",
    });
  });

  it("may only add labels: a deny or hold rule that reads the result is a problem", () => {
    const result = parseConstitution(
      `version: 1
default: allow
rules:
  - id: late-deny
    when: 'result.isError'
    effect: deny
    rationale: Too late to deny.
`,
      "late.yaml",
    );
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.problems.join("\n")).toMatch(
      /rules\[0\]\.when: a rule that reads `result`/,
    );
  });
});

describe("rules that gate on the auditor", () => {
  const gated = constitutionFrom(`
version: 1
default: allow
rules:
  - id: audit-deploys
    when: 'tool.name == "deploy"'
    effect: allow
    audit: { threshold: 0.9, goal: ship the release }
    rationale: Deploys wait for the auditor.
  - id: audit-deletes
    when: 'tool.name == "delete"'
    effect: allow
    audit: { otherwise: hold }
    rationale: Deletes wait for the auditor or a reviewer.
    approvers: { roles: [security] }
  - id: no-prod-deletes
    when: 'tool.name == "delete" && tool.arguments.target == "prod"'
    effect: deny
    rationale: Production is never deleted.
  - id: shadow-audit
    when: 'tool.name == "read_file"'
    effect: allow
    audit: {}
    mode: shadow
    rationale: Trying an audit on reads.
`);
  const engine = createPolicyEngine({ constitution: gated, builtins });
  const withVerdict = (input: DecisionInput, verdict: "aligned" | "misaligned" | "inconclusive") => ({
    ...input,
    session: { ...input.session, audit: { verdict } },
  });

  it("ask for an audit first, then allow on aligned and deny (or hold) on anything else", () => {
    const first = engine.decide(call("deploy"), now);
    expect(first.auditRequest).toEqual({
      ruleIds: ["audit-deploys"],
      threshold: 0.9,
      goal: "ship the release",
    });
    expect(engine.decide(withVerdict(call("deploy"), "aligned"), now)).toMatchObject({
      applied: { effect: "allow", ruleId: "audit-deploys" },
    });
    const denied = engine.decide(withVerdict(call("deploy"), "misaligned"), now);
    expect(denied.auditRequest).toBeUndefined();
    expect(denied.applied).toMatchObject({ effect: "deny", ruleId: "audit-deploys" });
    expect((denied.applied as { reason: string }).reason).toMatch(/Deploys wait for the auditor.*misaligned/);
    expect(
      engine.decide(withVerdict(call("delete", { target: "staging" }), "inconclusive"), now).applied,
    ).toMatchObject({
      effect: "hold",
      ruleId: "audit-deletes",
      approvers: { roles: ["security"] },
    });
  });

  it("do not ask when a deny rule decides anyway, nor for a shadow rule", () => {
    const prod = engine.decide(call("delete", { target: "prod" }), now);
    expect(prod.auditRequest).toBeUndefined();
    expect(prod.applied).toMatchObject({ effect: "deny", ruleId: "no-prod-deletes" });
    const read = engine.decide(call("read_file"), now);
    expect(read.auditRequest).toBeUndefined();
    expect(read.applied).toMatchObject({ effect: "allow", ruleId: "default" });
  });

  it("are shown to the auditor with their messages", () => {
    expect(engine.ruleMessages[0]).toEqual({ id: "audit-deploys", message: "Deploys wait for the auditor." });
  });

  it("may only be allow rules, and need a rationale", () => {
    const result = parseConstitution(
      "version: 1\ndefault: allow\nrules:\n  - id: x\n    when: 'true'\n    effect: hold\n    rationale: r\n    audit: {}\n  - id: y\n    when: 'true'\n    effect: allow\n    audit: {}\n",
      "test.yaml",
    );
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.problems.join("\n")).toMatch(
      /rules\[0\]\.audit.*only applies to allow rules/,
    );
    expect(result.ok ? [] : result.problems.join("\n")).toMatch(/rules\[1\]\.rationale.*audit/);
  });
});
