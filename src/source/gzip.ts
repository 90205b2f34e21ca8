/**
 * gzip detection by content, not by name: the first two bytes of a gzip stream are 1f 8b. The sniffer
 * holds the first bytes back until it can tell, then passes everything through unchanged.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { createGunzip, type Gunzip } from 'node:zlib';

const MAGIC = Buffer.from([0x1f, 0x8b]);

export function isGzip(head: Buffer): boolean {
  return head.length >= MAGIC.length && head.subarray(0, MAGIC.length).equals(MAGIC);
}

/** A pass-through that counts the bytes written to it and tells, once, whether they are gzip. */
export class GzipSniffer extends Transform {
  /** Bytes written so far: the raw bytes consumed from the source. */
  bytes = 0;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private verdict: boolean | undefined;
  private readonly settled: Promise<boolean>;

  constructor() {
    super({ readableHighWaterMark: 1 << 20, writableHighWaterMark: 1 << 20 });
    this.settled = new Promise<boolean>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      const onClose = () => reject(new Error('the input closed before its first bytes were read'));
      this.once('error', onError);
      this.once('close', onClose);
      this.once('sniffed', (gzip: boolean) => {
        this.off('error', onError);
        this.off('close', onClose);
        resolve(gzip);
      });
    });
    this.settled.catch(() => undefined);
  }

  /** Resolves with whether the data is gzip once the first bytes (or the end) are in. */
  compressed(): Promise<boolean> {
    return this.settled;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.verdict !== undefined) {
      callback(null, chunk);
      return;
    }
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    if (this.heldBytes >= MAGIC.length) this.decide();
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.verdict === undefined) this.decide();
    callback();
  }

  private decide(): void {
    const head = this.held.length === 1 ? this.held[0] : Buffer.concat(this.held);
    this.held = [];
    this.verdict = isGzip(head);
    this.emit('sniffed', this.verdict);
    if (head.length > 0) this.push(head);
  }
}

/** A gunzip with larger output chunks than zlib's 16 KiB default (fewer, bigger reads downstream). */
export function gunzip(): Gunzip {
  return createGunzip({ chunkSize: 1 << 16 });
}
