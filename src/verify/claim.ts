import { claimKinds, claimVerdicts } from "../core/events.js";

export { claimKinds, claimVerdicts };

/** What an agent says it did, as far as the record can check it. */
export type ClaimKind = (typeof claimKinds)[number];

export interface Claim {
  kind: ClaimKind;
  /** The sentence that makes the claim, and where it sits in the text (UTF-16 offsets). */
  text: string;
  span: [number, number];
  /** The path or command the claim is about, when it names one. */
  subject?: string;
}

/** `unverifiable`: the record has no evidence either way (never taken as support). */
export type ClaimVerdict = (typeof claimVerdicts)[number];

export interface ClaimCheck {
  claim: Claim;
  verdict: ClaimVerdict;
  /** Why, in words a reviewer can check against the events. */
  reason: string;
  /** The events that support or contradict it. */
  evidenceEventIds: string[];
}
