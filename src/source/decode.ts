import { Transform, type TransformCallback } from 'node:stream';

/** A byte that never occurs in UTF-8: it marks where the source had bytes invalid in its encoding. */
const INVALID = Buffer.from([0xff]);
const REPLACEMENT = '\uFFFD';

/**
 * Bytes to UTF-8 in the file's encoding, streaming (multi-byte characters split across chunks are
 * carried over). A UTF-8 BOM is dropped. Bytes invalid in the encoding come out as a byte that is
 * invalid UTF-8, so the worker that checks each record's bytes reports a bad row at its line: the
 * decoder's U+FFFD cannot be told from a real one afterwards. (Every U+FFFD a decoder writes is
 * taken as invalid input: among the encodings it reads, only UTF-16 and GB18030 can hold a real
 * U+FFFD, and such a character is then refused too.)
 */
export function decoder(encoding: string): Transform {
  const text = new TextDecoder(encoding, { fatal: false, ignoreBOM: false });
  const encode = (decoded: string): Buffer => {
    if (!decoded.includes(REPLACEMENT)) return Buffer.from(decoded, 'utf8');
    const pieces: Buffer[] = [];
    decoded.split(REPLACEMENT).forEach((piece, i) => {
      if (i > 0) pieces.push(INVALID);
      pieces.push(Buffer.from(piece, 'utf8'));
    });
    return Buffer.concat(pieces);
  };
  return new Transform({
    decodeStrings: true,
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      done(null, encode(text.decode(chunk, { stream: true })));
    },
    flush(done: TransformCallback) {
      const rest = text.decode();
      done(null, rest.length > 0 ? encode(rest) : undefined);
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
