/**
 * The bytes a splitter has read but not yet handed on, kept as the buffers they arrived in. Reads
 * append without copying; only a cut copies, once, the bytes it takes: buffering stays linear in
 * the input however long a record is (concatenating on every read would be quadratic).
 */
export class ByteQueue {
  private parts: Buffer[] = [];
  /** Bytes held. */
  length = 0;
  /** Bytes removed (taken or dropped) since the start of the input. */
  removed = 0;

  push(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.parts.push(bytes);
    this.length += bytes.length;
  }

  /** Removes the first `n` bytes and returns them as one buffer (a view when they lie in one part). */
  take(n: number): Buffer {
    const out = this.peek(0, n);
    this.drop(n);
    return out;
  }

  /** The bytes from `start` to `end` without removing them (a copy only when they span parts). */
  peek(start: number, end: number): Buffer {
    const pieces: Buffer[] = [];
    let at = 0;
    for (const part of this.parts) {
      const from = Math.max(start - at, 0);
      const to = Math.min(end - at, part.length);
      if (from < to) pieces.push(part.subarray(from, to));
      at += part.length;
      if (at >= end) break;
    }
    return pieces.length === 1 ? pieces[0] : Buffer.concat(pieces);
  }

  /** Removes the first `n` bytes. */
  drop(n: number): void {
    let left = n;
    while (left > 0 && this.parts.length > 0) {
      const first = this.parts[0];
      if (first.length <= left) {
        left -= first.length;
        this.parts.shift();
      } else {
        this.parts[0] = first.subarray(left);
        left = 0;
      }
    }
    this.length -= n - left;
    this.removed += n - left;
  }
}
