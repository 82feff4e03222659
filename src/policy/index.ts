export type { BuiltinRuleOptions } from "./builtin/builtin-rules.js";
export { builtinRuleIds } from "./builtin/builtin-rules.js";
export { checkPolicyFile } from "./check-policy-file.js";
export { constitutionJsonSchema } from "./constitution-json-schema.js";
export type { Constitution, ConstitutionRule } from "./constitution-schema.js";
export { constitutionSchema } from "./constitution-schema.js";
export { loadConstitutionFile } from "./load-constitution-file.js";
export type { ConstitutionResult } from "./parse-constitution.js";
export { parseConstitution } from "./parse-constitution.js";
export type { DecisionInput, PolicyEngine, PolicyEngineOptions } from "./policy-engine.js";
export {
  createPolicyEngine,
  defaultRuleId,
  noConstitutionDecision,
  noConstitutionRuleId,
  policyErrorRuleId,
} from "./policy-engine.js";
export type { PolicyTestResult } from "./run-policy-tests.js";
export { policyTestCasesSchema, runPolicyTests } from "./run-policy-tests.js";
