/**
 * The circuit breaker: after `threshold` consecutive failed runs it opens and ticks are skipped for
 * the cooldown; the first tick after that runs once (half-open); success closes it, failure opens
 * it again for another cooldown. Pure: the caller passes the time and reports each change.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerChange {
  from: BreakerState;
  to: BreakerState;
  consecutiveFailures: number;
  /** When an open breaker lets the next run through. */
  retryAt?: Date;
}

export interface BreakerSnapshot {
  state: BreakerState;
  consecutiveFailures: number;
  retryAt?: Date;
}

export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private failures = 0;
  private openedAt = 0;

  /** A threshold of 0 turns the breaker off: it never opens. */
  constructor(
    readonly threshold: number,
    readonly cooldownMs: number,
  ) {}

  get state(): BreakerState {
    return this.current;
  }

  /** Asked at each tick: may a run start now? Moves open to half-open once the cooldown is over. */
  admit(now: Date): { run: boolean; change?: BreakerChange } {
    if (this.current !== 'open') return { run: true };
    if (now.getTime() < this.openedAt + this.cooldownMs) return { run: false };
    return { run: true, change: this.moveTo('half-open') };
  }

  recordSuccess(): BreakerChange | undefined {
    this.failures = 0;
    return this.current === 'closed' ? undefined : this.moveTo('closed');
  }

  recordFailure(now: Date): BreakerChange | undefined {
    this.failures += 1;
    const trips =
      this.current === 'half-open' ||
      (this.current === 'closed' && this.threshold > 0 && this.failures >= this.threshold);
    if (!trips) return undefined;
    this.openedAt = now.getTime();
    return this.moveTo('open');
  }

  snapshot(): BreakerSnapshot {
    return { state: this.current, consecutiveFailures: this.failures, retryAt: this.retryAt() };
  }

  private retryAt(): Date | undefined {
    return this.current === 'open' ? new Date(this.openedAt + this.cooldownMs) : undefined;
  }

  private moveTo(to: BreakerState): BreakerChange {
    const change: BreakerChange = { from: this.current, to, consecutiveFailures: this.failures };
    this.current = to;
    const retryAt = this.retryAt();
    if (retryAt) change.retryAt = retryAt;
    return change;
  }
}
