/**
 * A remote body (an http(s) response, an S3 object) with back-pressure, an idle timeout and
 * cut-short detection. The idle timer runs only while the consumer wants bytes (a slow consumer is
 * not a stalled server); the body ends only when all of its announced length arrived, so a
 * connection closed early is an error, never an early end of file.
 */
import { Readable } from 'node:stream';

export interface GuardedBodyOptions {
  body: Readable;
  /** The source as shown in messages, never with credentials. */
  label: string;
  /** What the bytes are called in messages: "body", "object". */
  noun: string;
  timeoutMs: number;
  /** The announced length (Content-Length), when there is one. */
  expected: number | undefined;
  /** Whether the transport saw the whole message (http's response.complete); true when it cannot tell. */
  complete?: () => boolean;
  /** The source's own error type. */
  error: (message: string, code: 'ECONNRESET' | 'ETIMEDOUT', options?: ErrorOptions) => Error;
  /** Tears down the transport (the request, or the body) when the stream is destroyed. */
  close: () => void;
}

export class GuardedBody extends Readable {
  private received = 0;
  private settled = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: GuardedBodyOptions) {
    super({ highWaterMark: 1 << 16 });
    const { body } = options;
    body.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      if (this.push(chunk)) this.arm();
      else {
        this.disarm();
        body.pause();
      }
    });
    body.on('end', () => {
      if (this.settled) return;
      const whole =
        (options.complete?.() ?? true) && (options.expected === undefined || this.received === options.expected);
      if (!whole) this.fail(this.cutShort());
      else {
        this.settled = true;
        this.disarm();
        this.push(null);
      }
    });
    body.on('error', (error) => this.fail(this.cutShort(error)));
    body.on('close', () => this.fail(this.cutShort()));
  }

  override _read(): void {
    this.arm();
    this.options.body.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.settled = true;
    this.disarm();
    this.options.close();
    callback(error);
  }

  /** Ends the stream with `error`, unless it already ended. */
  fail(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.destroy(error);
  }

  /** The error for a connection that closed before the end of the data. */
  cutShort(cause?: unknown): Error {
    const { expected, label, noun } = this.options;
    const of = expected === undefined ? '' : ` of ${expected}`;
    return this.options.error(
      `GET ${label}: the ${noun} was cut short after ${this.received}${of} bytes (the connection closed before the end of the data)`,
      'ECONNRESET',
      cause === undefined ? undefined : { cause },
    );
  }

  private arm(): void {
    const { timeoutMs, label } = this.options;
    if (timeoutMs <= 0 || this.settled) return;
    this.disarm();
    this.timer = setTimeout(() => {
      this.fail(
        this.options.error(
          `GET ${label}: no data for ${timeoutMs} ms after ${this.received} bytes (idle timeout)`,
          'ETIMEDOUT',
        ),
      );
    }, timeoutMs);
  }

  private disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
