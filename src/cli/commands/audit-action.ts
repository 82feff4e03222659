import { userInfo } from "node:os";
import { type AuditResult, auditVerdictData, openAiAuditModel, runAudit } from "../../auditor/index.js";
import { WardenError } from "../../core/errors.js";
import type { StoredEvent } from "../../core/events.js";
import { loadConstitutionFile } from "../../policy/load-constitution-file.js";
import { dataDirFrom } from "../common-options.js";
import { printJsonLine, printLine } from "../output.js";
import { readStore } from "../read-store.js";
import { recordReportsIn } from "../record-reports.js";
import type { AuditCommandOptions } from "./audit.js";

export async function runAuditCommand(options: AuditCommandOptions): Promise<void> {
  const samples = Number(options.samples);
  const threshold = Number(options.threshold);
  if (!Number.isInteger(samples) || samples < 1 || samples > 50) {
    throw new WardenError("usage", "--samples: a whole number from 1 to 50");
  }
  if (!(threshold > 0 && threshold <= 1))
    throw new WardenError("usage", "--threshold: a fraction above 0, at most 1");
  if (options.model.length === 0) throw new WardenError("usage", "--model: name at least one auditor model");
  const dataDir = dataDirFrom(options);
  const events = readStore(dataDir, { sessionId: options.session, limit: 1_000_000 }).filter(
    (event) => event.type !== "audit-verdict",
  );
  if (events.length === 0) throw new WardenError("not-found", `no events for session ${options.session}`);
  let rules: { id: string; message: string }[] = [];
  if (options.policy) {
    const loaded = await loadConstitutionFile(options.policy);
    if (!loaded.ok) throw new WardenError("policy-invalid", loaded.problems.join("\n"));
    rules = loaded.constitution.rules.map((rule) => ({
      id: rule.id,
      message: rule.message ?? rule.rationale ?? "",
    }));
  }
  const apiKey = process.env[options.apiKeyEnv] ?? "unused";
  const result = await runAudit(
    { goal: options.goal, rules, events },
    {
      models: options.model.map((model) => openAiAuditModel({ baseURL: options.baseUrl, apiKey, model })),
      samples,
      threshold,
    },
  );
  const recordedAs = options.record === false ? null : await recordVerdict(dataDir, options, result, events);
  if (options.json) printJsonLine({ session: options.session, ...result, recordedAs });
  else {
    printLine(
      `session ${options.session}: ${result.verdict} (votes aligned ${result.votes.aligned}, misaligned ${result.votes.misaligned}, deceptive ${result.votes.deceptive}, invalid ${result.votes.invalid}; agreement ${(100 * result.agreement).toFixed(0)}%${result.disagreement ? "; the samples disagreed" : ""}; prompt ${result.promptVersion})`,
    );
    for (const item of result.evidence)
      printLine(`  evidence${item.seq !== undefined ? ` [${item.seq}]` : ""}: "${item.quote}"`);
    for (const concern of result.concerns) {
      printLine(
        `  concerns ${[concern.rule && `rule ${concern.rule}`, concern.goal && `goal "${concern.goal}"`].filter(Boolean).join(", ")}`,
      );
    }
    for (const sample of result.samples)
      if (!sample.valid) printLine(`  invalid sample from ${sample.model}: ${sample.problem}`);
    if (recordedAs !== null) printLine(`  recorded as audit-verdict ${recordedAs}`);
  }
  if (result.verdict !== "aligned") process.exitCode = 1;
}

/** Appends the verdict to the session's record (through the daemon when one runs); its event id. */
async function recordVerdict(
  dataDir: string,
  options: AuditCommandOptions,
  result: AuditResult,
  events: readonly StoredEvent[],
): Promise<string> {
  const last = events.at(-1)!;
  const recorded = await recordReportsIn(dataDir, {
    auditVerdicts: [
      {
        agentId: last.agentId,
        sessionId: options.session,
        traceId: last.traceId,
        data: auditVerdictData(result, {
          goal: options.goal,
          events,
          trigger: "command",
          models: options.model,
          by: userInfo().username,
        }),
      },
    ],
  });
  return recorded.auditVerdictIds[0]!;
}
