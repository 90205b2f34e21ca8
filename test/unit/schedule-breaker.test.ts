import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../src/schedule/breaker.js';

const at = (seconds: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, seconds));

describe('circuit breaker', () => {
  it('stays closed until the threshold of consecutive failures, then opens', () => {
    const breaker = new CircuitBreaker(3, 60_000);
    expect(breaker.recordFailure(at(0))).toBeUndefined();
    expect(breaker.recordFailure(at(1))).toBeUndefined();
    expect(breaker.admit(at(2))).toEqual({ run: true });
    expect(breaker.recordFailure(at(2))).toEqual({
      from: 'closed',
      to: 'open',
      consecutiveFailures: 3,
      retryAt: at(62),
    });
    expect(breaker.snapshot()).toEqual({ state: 'open', consecutiveFailures: 3, retryAt: at(62) });
  });

  it('a success in between resets the count', () => {
    const breaker = new CircuitBreaker(2, 60_000);
    breaker.recordFailure(at(0));
    expect(breaker.recordSuccess()).toBeUndefined();
    expect(breaker.recordFailure(at(1))).toBeUndefined();
    expect(breaker.state).toBe('closed');
  });

  it('skips ticks during the cooldown, then lets one run through half-open', () => {
    const breaker = new CircuitBreaker(1, 60_000);
    breaker.recordFailure(at(0));
    expect(breaker.admit(at(30))).toEqual({ run: false });
    expect(breaker.admit(at(59))).toEqual({ run: false });
    expect(breaker.admit(at(60))).toEqual({
      run: true,
      change: { from: 'open', to: 'half-open', consecutiveFailures: 1 },
    });
    expect(breaker.state).toBe('half-open');
  });

  it('closes when the half-open run succeeds', () => {
    const breaker = new CircuitBreaker(1, 1000);
    breaker.recordFailure(at(0));
    breaker.admit(at(5));
    expect(breaker.recordSuccess()).toEqual({ from: 'half-open', to: 'closed', consecutiveFailures: 0 });
    expect(breaker.admit(at(6))).toEqual({ run: true });
  });

  it('opens again for a full cooldown when the half-open run fails', () => {
    const breaker = new CircuitBreaker(2, 10_000);
    breaker.recordFailure(at(0));
    breaker.recordFailure(at(1));
    breaker.admit(at(20));
    expect(breaker.recordFailure(at(21))).toEqual({
      from: 'half-open',
      to: 'open',
      consecutiveFailures: 3,
      retryAt: at(31),
    });
    expect(breaker.admit(at(30))).toEqual({ run: false });
    expect(breaker.admit(at(31)).run).toBe(true);
  });

  it('never opens with a threshold of 0', () => {
    const breaker = new CircuitBreaker(0, 1000);
    for (let i = 0; i < 50; i += 1) expect(breaker.recordFailure(at(i))).toBeUndefined();
    expect(breaker.snapshot()).toEqual({ state: 'closed', consecutiveFailures: 50, retryAt: undefined });
  });
});
