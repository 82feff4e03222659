import { existsSync } from "node:fs";
import path from "node:path";
import type { ApprovalOutcome, ApprovalQueue } from "../approvals/approval-queue.js";
import type { Decision } from "../core/decision.js";
import { WardenError } from "../core/errors.js";
import type { EventStore } from "../core/event-store.js";
import type { EventData } from "../core/events.js";
import { newSpanId } from "../core/ids.js";
import type { Logger } from "../core/logger.js";
import type { CallIdentity } from "../core/oversight.js";
import {
  type ApplyConflict,
  type ChangeSet,
  type ChangeSetFacts,
  changeSetFacts,
  describeState,
  type FileChange,
  type NeedsPerson,
  openSandboxSession,
} from "../sandbox/index.js";
import type { OversightService } from "./oversight-service.js";

/** The rule a change set is held by when its caller asked for review (`warden exec --review`). */
export const reviewRequestedRuleId = "review-requested";
/** Warden's own hold for files that run code on the host later; the constitution cannot skip it. */
export const needsPersonRuleId = "builtin:sandbox-needs-person";
/** How long a forced hold waits in the inbox; afterwards the change set stays staged. */
const forcedHoldMilliseconds = 24 * 3_600_000;
/** Diff text returned in one answer; `warden changes show` has the rest. */
const answerDiffBytes = 1024 * 1024;

export type ChangeSetStatus = "staged" | "applied" | "discarded" | "superseded";

export interface SandboxRunReport {
  command: string[];
  exitCode: number;
  timedOut: boolean;
  durationMs: number;
  stdoutBytes: number;
  stderrBytes: number;
  droppedBytes: number;
  /** Connections through the egress proxy (`--allow-domain`), allowed or refused. */
  egress?: { host: string; port: number; allowed: boolean }[];
}

export interface SubmitChangeSetRequest {
  identity: CallIdentity;
  workspace: string;
  sandboxSessionId: string;
  commandStartedAtCtimeNs?: string | undefined;
  run: SandboxRunReport;
  /** Hold for a person whatever the constitution says. */
  review: boolean;
  /** More commands will run in this session: keep its layer after applying or discarding. */
  continuing?: boolean;
}

export type ChangeSetAnswer =
  | { outcome: "empty"; sandboxSessionId: string }
  | {
      outcome: "applied" | "discarded" | "held" | "refused";
      changeSetId: string;
      sandboxSessionId: string;
      ruleId: string | null;
      reason?: string;
      approvalId?: string;
      approvalsNeeded?: number;
      conflicts?: ApplyConflict[];
      changes: ChangeSummary[];
    };

export interface ChangeSummary {
  path: string;
  kind: FileChange["kind"];
  describe: string;
  needsPerson?: string;
  diff?: string;
  binary?: boolean;
}

interface Staged {
  changeSet: ChangeSet;
  needsPerson: NeedsPerson[];
  facts: ChangeSetFacts;
  identity: CallIdentity;
  callId: string;
  continuing: boolean;
  status: ChangeSetStatus;
  ruleId: string | null;
  /** Set while a hold for it is in the approval queue. */
  approvalId?: string;
  /** Settles with what became of the change set once the open hold is decided. */
  decided?: Promise<ChangeSetAnswer>;
  lastConflicts?: ApplyConflict[];
  createdAt: string;
}

export interface ChangeSetListing {
  changeSetId: string;
  sandboxSessionId: string;
  workspace: string;
  status: ChangeSetStatus;
  held: boolean;
  approvalId?: string;
  ruleId: string | null;
  added: number;
  modified: number;
  deleted: number;
  needsPerson: boolean;
  createdAt: string;
}

/**
 * The daemon's side of staged sandbox changes. It reads each change set from the session's
 * scratch layer itself (the submitter only says which session), decides it through the
 * constitution as the call `sandbox`/`change-set` with the change set's facts as arguments,
 * and applies, discards or holds it. Held change sets wait in the normal approval queue;
 * approving one applies it.
 */
export class ChangeSetService {
  readonly #store: EventStore;
  readonly #oversight: OversightService;
  readonly #approvals: ApprovalQueue;
  readonly #dataDir: string;
  readonly #logger: Logger;
  readonly #bubblewrap: string | undefined;
  readonly #staged = new Map<string, Staged>();

  constructor(options: {
    store: EventStore;
    oversight: OversightService;
    approvals: ApprovalQueue;
    dataDir: string;
    logger: Logger;
    bubblewrap?: string;
  }) {
    this.#store = options.store;
    this.#oversight = options.oversight;
    this.#approvals = options.approvals;
    this.#dataDir = options.dataDir;
    this.#logger = options.logger;
    this.#bubblewrap = options.bubblewrap;
  }

  /** Rebuilds the staged change sets from the record (open holds do not survive a restart). */
  async restore(): Promise<void> {
    let afterSeq = 0;
    for (;;) {
      const events = await this.#store.read({
        afterSeq,
        limit: 5000,
        types: ["change-set", "change-set-outcome"],
      });
      if (events.length === 0) break;
      for (const event of events) {
        if (event.type === "change-set") {
          const data = event.data as EventData<"change-set">;
          const changeSet: ChangeSet = {
            id: data.changeSetId,
            sessionId: data.sandboxSessionId,
            workspace: data.workspace,
            changes: data.changes as FileChange[],
          };
          this.#staged.set(data.changeSetId, {
            changeSet,
            needsPerson: data.needsPerson,
            facts: data.facts as ChangeSetFacts,
            identity: {
              agentId: event.agentId,
              sessionId: event.sessionId,
              traceId: event.traceId,
              spanId: event.parentSpanId ?? event.spanId,
            },
            callId: data.callId,
            continuing: data.continuing === true,
            status: "staged",
            ruleId: null,
            createdAt: event.time,
          });
        } else {
          const data = event.data as EventData<"change-set-outcome">;
          const staged = this.#staged.get(data.changeSetId);
          if (!staged) continue;
          staged.ruleId = data.ruleId;
          if (data.outcome === "applied" || data.outcome === "discarded" || data.outcome === "superseded")
            staged.status = data.outcome;
        }
      }
      afterSeq = events[events.length - 1]!.seq;
    }
  }

  async submit(request: SubmitChangeSetRequest): Promise<ChangeSetAnswer> {
    const { identity } = request;
    if (!existsSync(path.join(this.#dataDir, "sandbox", request.sandboxSessionId, "layer.json")))
      throw new WardenError(
        "not-found",
        `no sandbox session ${request.sandboxSessionId} in this data directory`,
      );
    const session = this.#session(request.workspace, request.sandboxSessionId);
    await this.#store.append(
      {
        type: "sandbox-run",
        ...childOf(identity),
        data: {
          ...request.run,
          workspace: session.workspace,
          sandboxSessionId: session.id,
        },
        // Made durable by the decision's group commit below, before anything is applied.
      },
      { durability: "buffered" },
    );
    const changeSet = await session.changeSet(request.commandStartedAtCtimeNs);
    if (changeSet.changes.length === 0) {
      await this.#supersede(session.id, null);
      if (!request.continuing) session.discard();
      await this.#store.flush();
      return { outcome: "empty", sandboxSessionId: session.id };
    }
    const needsPerson = session.needsPerson(changeSet);
    const facts = changeSetFacts(changeSet, needsPerson);
    await this.#supersede(session.id, changeSet.id);

    const hold = request.review
      ? { ruleId: reviewRequestedRuleId, holdMs: forcedHoldMilliseconds }
      : needsPerson.length > 0
        ? { ruleId: needsPersonRuleId, holdMs: forcedHoldMilliseconds }
        : undefined;
    const decided = await this.#oversight.decideStaged(
      {
        ...identity,
        via: "sandbox",
        method: "sandbox/change-set",
        server: "sandbox",
        tool: "change-set",
        arguments: facts,
        workingDirectory: session.workspace,
      },
      hold ? { hold } : {},
    );
    const staged: Staged = {
      changeSet,
      needsPerson,
      facts,
      identity,
      callId: decided.callId,
      continuing: request.continuing === true,
      status: "staged",
      ruleId: ruleIdOf(decided.applied),
      createdAt: new Date().toISOString(),
    };
    this.#staged.set(changeSet.id, staged);
    await this.#store.append({
      type: "change-set",
      ...childOf(identity),
      data: {
        changeSetId: changeSet.id,
        sandboxSessionId: changeSet.sessionId,
        workspace: changeSet.workspace,
        callId: decided.callId,
        facts,
        changes: changeSet.changes.map((change) => ({ ...change })),
        needsPerson,
        ...(request.continuing ? { continuing: true } : {}),
      },
    });
    const applied = decided.applied;
    if (applied.effect === "allow") return this.#apply(staged, "warden", staged.ruleId);
    if (applied.effect === "deny") return this.#discard(staged, "warden", applied.ruleId, applied.reason);
    staged.approvalId = decided.callId;
    staged.decided = (decided.outcome as Promise<ApprovalOutcome>).then(
      (outcome) => this.#afterReview(staged, outcome),
      (error: unknown) => {
        this.#logger.error({ error: String(error), changeSetId: changeSet.id }, "held change set failed");
        delete staged.approvalId;
        return this.#answer(staged, "held", {});
      },
    );
    await this.#outcome(staged, {
      outcome: "held",
      ruleId: applied.ruleId,
      by: "warden",
      approvalId: decided.callId,
    });
    return this.#answer(staged, "held", { approvalId: decided.callId });
  }

  list(): ChangeSetListing[] {
    return [...this.#staged.values()]
      .map((staged) => ({
        changeSetId: staged.changeSet.id,
        sandboxSessionId: staged.changeSet.sessionId,
        workspace: staged.changeSet.workspace,
        status: staged.status,
        held: staged.approvalId !== undefined,
        ...(staged.approvalId ? { approvalId: staged.approvalId } : {}),
        ruleId: staged.ruleId,
        added: staged.facts.added,
        modified: staged.facts.modified,
        deleted: staged.facts.deleted,
        needsPerson: staged.facts.needsPerson,
        createdAt: staged.createdAt,
      }))
      .reverse();
  }

  show(changeSetId: string) {
    const staged = this.#find(changeSetId);
    return {
      ...this.list().find((listing) => listing.changeSetId === changeSetId),
      facts: staged.facts,
      needsPersonReasons: staged.needsPerson,
      changes: staged.changeSet.changes,
      ...(staged.lastConflicts ? { conflicts: staged.lastConflicts } : {}),
    };
  }

  /**
   * A person applies a change set. With a hold open this is an approval through the queue (so
   * a two-person rule still needs its second reviewer); otherwise the change set is applied now.
   */
  async apply(changeSetId: string, reviewer: string): Promise<ChangeSetAnswer> {
    const staged = this.#stagedOnly(changeSetId);
    if (staged.approvalId !== undefined && staged.decided) {
      const decision = await this.#approvals.decide(staged.approvalId, {
        outcome: "approved",
        reviewer,
        scope: "once",
      });
      if (!decision.released)
        return this.#answer(staged, "held", {
          approvalId: staged.approvalId,
          approvalsNeeded: decision.approvalsNeeded,
        });
      return staged.decided;
    }
    return this.#apply(staged, reviewer, staged.ruleId);
  }

  async discard(changeSetId: string, reviewer: string, reason: string): Promise<ChangeSetAnswer> {
    const staged = this.#stagedOnly(changeSetId);
    if (staged.approvalId !== undefined && staged.decided) {
      await this.#approvals.decide(staged.approvalId, { outcome: "denied", reviewer, reason });
      return staged.decided;
    }
    return this.#discard(staged, reviewer, staged.ruleId, reason);
  }

  #afterReview(staged: Staged, outcome: ApprovalOutcome): Promise<ChangeSetAnswer> | ChangeSetAnswer {
    delete staged.approvalId;
    if (staged.status !== "staged") return this.#answer(staged, "discarded", {});
    if (outcome.outcome === "approved")
      return this.#apply(staged, outcome.reviewers.join(","), staged.ruleId);
    if (outcome.outcome === "denied")
      return this.#discard(
        staged,
        outcome.reviewer,
        staged.ruleId,
        `a reviewer discarded it: ${outcome.reason}`,
      );
    // Expired (or the daemon is stopping): it stays staged for `warden changes apply|discard`.
    return this.#answer(staged, "held", {});
  }

  async #apply(staged: Staged, by: string, ruleId: string | null): Promise<ChangeSetAnswer> {
    if (staged.status !== "staged") throw this.#notStaged(staged);
    const session = this.#session(staged.changeSet.workspace, staged.changeSet.sessionId);
    const result = session.apply(staged.changeSet);
    if (result.outcome === "refused") {
      staged.lastConflicts = result.conflicts;
      await this.#outcome(staged, { outcome: "refused", ruleId, by, conflicts: result.conflicts });
      return this.#answer(staged, "refused", { conflicts: result.conflicts });
    }
    staged.status = "applied";
    delete staged.lastConflicts;
    // A continuing session keeps its layer: what it holds now equals the workspace, so the
    // next capture reports only newer changes.
    if (!staged.continuing) session.discard();
    await this.#outcome(staged, { outcome: "applied", ruleId, by });
    return this.#answer(staged, "applied", {});
  }

  async #discard(
    staged: Staged,
    by: string,
    ruleId: string | null,
    reason: string,
  ): Promise<ChangeSetAnswer> {
    if (staged.status !== "staged") throw this.#notStaged(staged);
    staged.status = "discarded";
    const session = this.#session(staged.changeSet.workspace, staged.changeSet.sessionId);
    if (!staged.continuing) session.discard();
    else
      await session.reset().catch((error: unknown) => {
        // A command is running in the layer: its next change set still holds these changes and
        // is decided again.
        this.#logger.warn(
          { error: String(error), changeSetId: staged.changeSet.id },
          "could not reset a continuing session's layer",
        );
      });
    await this.#outcome(staged, { outcome: "discarded", ruleId, by, reason });
    return this.#answer(staged, "discarded", { reason });
  }

  /** A new command's change set replaces the session's earlier one (it is cumulative). */
  async #supersede(sandboxSessionId: string, byChangeSetId: string | null): Promise<void> {
    for (const staged of this.#staged.values()) {
      if (staged.changeSet.sessionId !== sandboxSessionId || staged.status !== "staged") continue;
      if (staged.changeSet.id === byChangeSetId) continue;
      staged.status = "superseded";
      const approvalId = staged.approvalId;
      delete staged.approvalId;
      const reason = byChangeSetId
        ? `superseded by change set ${byChangeSetId} of the same session`
        : "a later command of the same session undid every change";
      if (approvalId !== undefined)
        await this.#approvals
          .decide(approvalId, { outcome: "denied", reviewer: "warden", reason })
          .catch(() => undefined);
      await this.#outcome(staged, { outcome: "superseded", ruleId: null, by: "warden", reason });
    }
  }

  #outcome(staged: Staged, data: Omit<EventData<"change-set-outcome">, "changeSetId">) {
    return this.#store.append({
      type: "change-set-outcome",
      ...childOf(staged.identity),
      data: { changeSetId: staged.changeSet.id, ...data },
    });
  }

  #answer(
    staged: Staged,
    outcome: "applied" | "discarded" | "held" | "refused",
    extra: Partial<
      Pick<
        Extract<ChangeSetAnswer, { changeSetId: string }>,
        "reason" | "approvalId" | "approvalsNeeded" | "conflicts"
      >
    >,
  ): ChangeSetAnswer {
    const reasons = new Map(staged.needsPerson.map((item) => [item.path, item.reason]));
    let diffBudget = answerDiffBytes;
    const changes = staged.changeSet.changes.map((change) => {
      const summary: ChangeSummary = {
        path: change.path,
        kind: change.kind,
        describe: describeState(change.kind === "deleted" ? change.before : change.after),
      };
      const reason = reasons.get(change.path);
      if (reason) summary.needsPerson = reason;
      if (change.binary) summary.binary = true;
      if (change.diff && change.diff.length <= diffBudget) {
        summary.diff = change.diff;
        diffBudget -= change.diff.length;
      }
      return summary;
    });
    return {
      outcome,
      changeSetId: staged.changeSet.id,
      sandboxSessionId: staged.changeSet.sessionId,
      ruleId: staged.ruleId,
      ...extra,
      changes,
    };
  }

  #find(changeSetId: string): Staged {
    const staged = this.#staged.get(changeSetId);
    if (!staged) throw new WardenError("not-found", `no change set ${changeSetId}`);
    return staged;
  }

  #stagedOnly(changeSetId: string): Staged {
    const staged = this.#find(changeSetId);
    if (staged.status !== "staged") throw this.#notStaged(staged);
    return staged;
  }

  #notStaged(staged: Staged): WardenError {
    return new WardenError("forbidden", `change set ${staged.changeSet.id} is already ${staged.status}`);
  }

  #session(workspace: string, sandboxSessionId: string) {
    return openSandboxSession({
      workspace,
      dataDir: this.#dataDir,
      sessionId: sandboxSessionId,
      ...(this.#bubblewrap ? { bubblewrap: this.#bubblewrap } : {}),
    });
  }
}

function ruleIdOf(decision: Decision): string | null {
  return decision.ruleId ?? null;
}

function childOf(identity: CallIdentity) {
  return {
    agentId: identity.agentId,
    sessionId: identity.sessionId,
    traceId: identity.traceId,
    spanId: newSpanId(),
    parentSpanId: identity.spanId,
  };
}
