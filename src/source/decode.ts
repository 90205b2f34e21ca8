import { Transform, type TransformCallback } from 'node:stream';

/**
 * Bytes to text in the file's encoding, streaming (multi-byte characters split across chunks are
 * carried over). A UTF-8 BOM is dropped. Invalid bytes become U+FFFD, which row validation then
 * reports as a bad row at its line instead of crashing the run.
 */
export function decoder(encoding: string): Transform {
  const text = new TextDecoder(encoding, { fatal: false, ignoreBOM: false });
  return new Transform({
    readableObjectMode: false,
    decodeStrings: true,
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      done(null, text.decode(chunk, { stream: true }));
    },
    flush(done: TransformCallback) {
      const rest = text.decode();
      done(null, rest.length > 0 ? rest : undefined);
    },
  });
}

/** True when the runtime can decode this encoding label (utf-8, latin1, windows-1252, ...). */
export function isKnownEncoding(encoding: string): boolean {
  try {
    new TextDecoder(encoding);
    return true;
  } catch {
    return false;
  }
}
