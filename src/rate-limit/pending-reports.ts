/** One budget's written requests waiting to be reported. */
export interface PendingBudget {
  /** The budget's log key, as the store names it (before the client's own `keyPrefix`). */
  logKey: string;
  /** How long the key must live after the report (see RedisRateLimitStore's ttlMs). */
  ttlMs: number;
  /** Request id → when it was written (`performance.now()`). */
  written: Map<string, number>;
}

interface Group {
  budgets: Map<string, PendingBudget>;
  size: number;
  /** The earliest time by which one of the group's reports must go. */
  dueAt: number;
}

/**
 * Write-time reports of a RedisRateLimitStore, for every tenant of the process, waiting for a
 * script call that can carry them. A group is what one call may touch: the whole server on one
 * Redis, one master on a Cluster. Any call to the group (a take for any of its budgets) carries
 * the group's reports; a group with a report due and no call by then gets one call of its own for
 * all of them. At 1 request per second per tenant a tenant's next take comes too late to carry its
 * report (it must reach Redis within half a window), but another tenant's take comes within a few
 * ms: the report costs no call of its own.
 */
export class PendingReports {
  readonly #groups = new Map<string, Group>();
  readonly #sendDue: (group: string) => void;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;

  /** `sendDue(group)` must drain the group (a call of its own); it is called when a report is due. */
  constructor(sendDue: (group: string) => void) {
    this.#sendDue = sendDue;
  }

  /** Queues a report: `id`, recorded under `logKey`, was written at `writtenAt`; it must go by `dueAt`. */
  add(group: string, logKey: string, ttlMs: number, id: string, writtenAt: number, dueAt: number): void {
    let pending = this.#groups.get(group);
    if (pending === undefined) {
      pending = { budgets: new Map(), size: 0, dueAt };
      this.#groups.set(group, pending);
    }
    let budget = pending.budgets.get(logKey);
    if (budget === undefined) {
      budget = { logKey, ttlMs, written: new Map() };
      pending.budgets.set(logKey, budget);
    }
    budget.ttlMs = Math.max(budget.ttlMs, ttlMs);
    if (!budget.written.has(id)) pending.size += 1;
    budget.written.set(id, writtenAt);
    pending.dueAt = Math.min(pending.dueAt, dueAt);
    if (dueAt < this.#timerAt) this.#schedule(dueAt);
  }

  /**
   * Takes up to `max` of the group's reports (every budget whole, but the last), for a call that
   * carries them. What is left keeps its due time.
   */
  drain(group: string, max: number): PendingBudget[] {
    const pending = this.#groups.get(group);
    if (pending === undefined) return [];
    const drained: PendingBudget[] = [];
    let room = max;
    for (const budget of pending.budgets.values()) {
      if (room === 0) break;
      if (budget.written.size <= room) {
        drained.push(budget);
        pending.budgets.delete(budget.logKey);
        room -= budget.written.size;
        continue;
      }
      const part: PendingBudget = { logKey: budget.logKey, ttlMs: budget.ttlMs, written: new Map() };
      for (const [id, at] of budget.written) {
        if (room === 0) break;
        part.written.set(id, at);
        budget.written.delete(id);
        room -= 1;
      }
      drained.push(part);
    }
    pending.size -= max - room;
    if (pending.size === 0) this.#groups.delete(group);
    return drained;
  }

  /** The groups with reports waiting. */
  groups(): string[] {
    return [...this.#groups.keys()];
  }

  /** Stops the timer for good: reports still waiting must be drained by the caller. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.NEGATIVE_INFINITY;
  }

  #schedule(at: number): void {
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#sendDueGroups(), Math.max(0, at - performance.now()));
    // Not pending work: a process that ends needs no record of what it sent.
    this.#timer.unref();
  }

  #sendDueGroups(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    for (const [group, pending] of [...this.#groups]) {
      if (pending.dueAt <= now) this.#sendDue(group);
    }
    let next = Number.POSITIVE_INFINITY;
    for (const pending of this.#groups.values()) next = Math.min(next, pending.dueAt);
    if (next !== Number.POSITIVE_INFINITY) this.#schedule(next);
  }
}
