/**
 * Test-only failure points. They are not part of any public options type: a test attaches them to
 * the options object it passes (`withFaults(config, {...})`), and the load looks them up by that
 * object's identity. Nothing in the CLI or the environment can reach them.
 */

/** The points between steps where a test can make a load fail. */
export type LoadStep = 'staged' | 'commit' | 'cleanup';

export interface LoadFaults {
  /** The worker thread handling this batch number (1-based) exits abruptly. */
  killWorkerOnBatch?: number;
  /** The worker thread handling this batch number (1-based) allocates until its heap limit stops it. */
  exhaustWorkerMemoryOnBatch?: number;
  /** Called on the main thread after each batch is handed to the workers (a test can fill the heap here). */
  afterBatch?: () => void;
  /** Called between steps; a throw here fails the load at that step. */
  beforeStep?: (step: LoadStep) => void | Promise<void>;
}

const attached = new WeakMap<object, LoadFaults>();

/** Returns `options` with the faults attached (tests only). */
export function withFaults<T extends object>(options: T, faults: LoadFaults): T {
  attached.set(options, faults);
  return options;
}

export function faultsOf(options: object): LoadFaults | undefined {
  return attached.get(options);
}
