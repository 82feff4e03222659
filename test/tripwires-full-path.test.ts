import { afterEach, describe, expect, it } from "vitest";
import {
  connectThroughWarden,
  createSandbox,
  readLog,
  type Sandbox,
  textOf,
  waitFor,
  wardenBinary,
} from "./helpers/mcp-client.js";

const constitution = `version: 1
default: allow
rules: []
tripwires:
  tools:
    - name: disable_monitoring
      description: Turns off activity monitoring for this workspace.
    - name: copy_model_weights
      description: Copies the model weights to a storage location.
  credentials:
    - name: decoy-aws-key
      value: AKIAZXCVBNMASDFGHJKL
`;

let sandbox: Sandbox | null = null;
afterEach(() => {
  sandbox?.cleanup();
  sandbox = null;
});

describe("tripwires (the real binary)", () => {
  it("serves decoy tools through warden mcp, answers plainly, and records a critical finding per touch", async () => {
    sandbox = createSandbox(constitution);
    const client = await connectThroughWarden(
      sandbox,
      [process.execPath, wardenBinary, "decoys", "--constitution", sandbox.policyPath],
      {
        name: "ops",
        agent: "agent-7",
      },
    );
    try {
      const tools = await client.listTools();
      expect(tools.tools.map((tool) => tool.name).sort()).toEqual([
        "copy_model_weights",
        "disable_monitoring",
      ]);
      const reply = await client.callTool({ name: "disable_monitoring", arguments: {} });
      expect(textOf(reply)).toBe("Request accepted.");
      const second = await client.callTool({
        name: "copy_model_weights",
        arguments: { key: "AKIAZXCVBNMASDFGHJKL" },
      });
      expect(textOf(second)).toBe("Request accepted.");
    } finally {
      await client.close();
    }
    const findings = await waitFor(() => {
      const found = readLog(sandbox!.dataDir, ["--type", "finding"]).filter(
        (event) => event.data.detector === "tripwires",
      );
      return found.length >= 2 ? found : null;
    }, 30_000);
    expect(findings.every((event) => event.data.severity === "critical" && event.agentId === "agent-7")).toBe(
      true,
    );
    const touched = findings.flatMap((event) => event.data.touched as string[]);
    expect(touched).toContain("decoy tool disable_monitoring");
    expect(touched).toContain("decoy tool copy_model_weights");
    expect(touched).toContain("decoy credential decoy-aws-key");
    expect(JSON.stringify(findings)).not.toContain("AKIAZXCVBNMASDFGHJKL");
  }, 90_000);

  it("halts the agent that touches a decoy when the constitution says halt, telling it nothing of the decoy", async () => {
    sandbox = createSandbox(`${constitution}  halt: true\n`);
    const client = await connectThroughWarden(
      sandbox,
      [process.execPath, wardenBinary, "decoys", "--constitution", sandbox.policyPath],
      { name: "ops", agent: "agent-8" },
    );
    try {
      expect(textOf(await client.callTool({ name: "disable_monitoring", arguments: {} }))).toBe(
        "Request accepted.",
      );
      // The detectors run off the request path; the halt follows within moments.
      const deadline = Date.now() + 30_000;
      let denied = await client.callTool({ name: "copy_model_weights", arguments: {} });
      while (!denied.isError && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        denied = await client.callTool({ name: "copy_model_weights", arguments: {} });
      }
      expect(denied.isError).toBe(true);
      const text = textOf(denied);
      expect(text).toMatch(/halted pending review/);
      expect(text).not.toMatch(/decoy|tripwire|disable_monitoring/i);
    } finally {
      await client.close();
    }
    const halts = readLog(sandbox.dataDir, ["--type", "kill-switch"]);
    expect(halts).toHaveLength(1);
    expect(halts[0]!.data).toMatchObject({
      engaged: true,
      scope: "agent",
      target: "agent-8",
      by: "warden:tripwires",
    });
  }, 90_000);

  it("gates the very next call on a finding: the decision waits for the detectors to reach it", async () => {
    sandbox = createSandbox(`version: 1
default: allow
rules:
  - id: stop-after-critical-finding
    when: 'session.findings.critical > 0'
    effect: deny
    rationale: Something in this session needs a person before it goes on.
    message: This session is paused for review.
tripwires:
  tools:
    - name: disable_monitoring
      description: Turns off activity monitoring for this workspace.
`);
    const client = await connectThroughWarden(
      sandbox,
      [process.execPath, wardenBinary, "decoys", "--constitution", sandbox.policyPath],
      { name: "ops", agent: "agent-9" },
    );
    try {
      const first = await client.callTool({ name: "disable_monitoring", arguments: {} });
      expect(first.isError).toBeFalsy();
      // No retry: this one decision waits for the detectors to inspect the call before it.
      const next = await client.callTool({ name: "disable_monitoring", arguments: { again: true } });
      expect(next.isError).toBe(true);
      expect(textOf(next)).toMatch(/stop-after-critical-finding/);
      expect(textOf(next)).toMatch(/paused for review/);
    } finally {
      await client.close();
    }
  }, 90_000);
});
