export { type AuditModel, type OpenAiAuditModelOptions, openAiAuditModel } from "./audit-model.js";
export {
  type AuditSubject,
  auditorPromptVersion,
  auditorSystemPrompt,
  renderAuditRequest,
} from "./audit-prompt.js";
export { type AuditSample, type AuditVerdictKind, auditVerdicts, parseAuditSample } from "./audit-verdict.js";
export { auditVerdictData } from "./audit-verdict-event.js";
export { type AuditOptions, type AuditResult, runAudit } from "./run-audit.js";
