export { checkClaim } from "./check-claims.js";
export {
  type Claim,
  type ClaimCheck,
  type ClaimKind,
  type ClaimVerdict,
  claimKinds,
  claimVerdicts,
} from "./claim.js";
export { createClaimsDetector } from "./claims-detector.js";
export { extractClaims } from "./extract-claims.js";
export { type CommandRun, type FileChangeEvidence, SessionEvidence, samePath } from "./session-evidence.js";
export {
  parseTestOutput,
  recognisedBuildCommand,
  recognisedTestCommand,
  type TestSummary,
} from "./test-runner-output.js";
