/**
 * The shutdown of the long-running commands (etl daemon, serve, worker): the first SIGTERM or SIGINT
 * stops taking new work and lets running work finish, the second aborts the running work (it rolls
 * back), the third exits at once. Once the command has returned, a handle still open (a socket stuck
 * on a dead server) must not keep the process, and its container, alive.
 */
import { EXIT } from './exit-codes.js';

const FORCED_EXIT_MS = 10_000;

/** What each signal says, through the command's current logger. */
export interface SignalMessages {
  first?: (name: NodeJS.Signals) => void;
  second: (name: NodeJS.Signals) => void;
  third?: (name: NodeJS.Signals) => void;
}

export interface Shutdown {
  /** Aborted by the first signal: take no new work. */
  stop: AbortSignal;
  /** Aborted by the second: abort the running work now. */
  abortNow: AbortSignal;
  /** The command is done: the handlers go, and the process exits within FORCED_EXIT_MS whatever is left open. */
  done(): void;
}

export function handleShutdownSignals(say: SignalMessages): Shutdown {
  const stop = new AbortController();
  const abortNow = new AbortController();
  let signals = 0;
  const onSignal = (name: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1) {
      say.first?.(name);
      stop.abort(name);
    } else if (signals === 2) {
      say.second(name);
      abortNow.abort(name);
    } else {
      say.third?.(name);
      process.exit(name === 'SIGTERM' ? EXIT.terminated : EXIT.interrupted);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    stop: stop.signal,
    abortNow: abortNow.signal,
    done() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      setTimeout(() => process.exit(), FORCED_EXIT_MS).unref();
    },
  };
}
